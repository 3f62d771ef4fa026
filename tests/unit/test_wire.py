"""wire: exact-decimal JSON for the batch tree, and the /bulkevents body join."""

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rokt_forwarder import wire

scalars = (
    st.none() | st.booleans() | st.integers() | st.decimals(allow_nan=False, allow_infinity=False) | st.text()
)
trees = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


def typed(value: Any) -> Any:
    """A comparable form that tells True from 1 and a string from a number."""
    if value is None or isinstance(value, bool | str):
        return (type(value).__name__, value)
    if isinstance(value, int | Decimal):
        return ("number", Decimal(value))
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    assert isinstance(value, dict)
    return ("object", {k: typed(v) for k, v in value.items()})


def load(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


@given(trees)
def test_round_trip(tree: Any) -> None:
    body = wire.dumps(tree)
    assert isinstance(body, bytes)
    assert typed(load(body)) == typed(tree)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimals_are_written_as_they_are(value: Decimal) -> None:
    body = wire.dumps(value)
    assert body == str(value).encode()
    assert load(body) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("19.99"), b"19.99"),
        (Decimal("100.00"), b"100.00"),
        (Decimal("12345678901234567.89"), b"12345678901234567.89"),
        (Decimal("0"), b"0"),
        (Decimal("1E+3"), b"1E+3"),
        (Decimal("-0.001"), b"-0.001"),
    ],
)
def test_decimal_examples(value: Decimal, text: bytes) -> None:
    assert wire.dumps({"amount": value}) == b'{"amount":' + text + b"}"


def test_scalars_and_containers() -> None:
    assert wire.dumps(None) == b"null"
    assert wire.dumps(True) == b"true"
    assert wire.dumps(False) == b"false"
    assert wire.dumps(0) == b"0"
    assert wire.dumps(-7) == b"-7"
    assert wire.dumps(1.5) == b"1.5"
    assert wire.dumps([]) == b"[]"
    assert wire.dumps({}) == b"{}"
    assert wire.dumps((1, "a")) == b'[1,"a"]'
    assert wire.dumps({"a": [1, {"b": None}]}) == b'{"a":[1,{"b":null}]}'


def test_strings_are_escaped_and_utf8() -> None:
    assert wire.dumps('say "hi"\n') == b'"say \\"hi\\"\\n"'
    assert wire.dumps("Café ☕") == '"Café ☕"'.encode()
    assert wire.dumps({"ключ": "значение"}) == '{"ключ":"значение"}'.encode()


def test_non_string_keys_are_written_as_strings() -> None:
    assert load(wire.dumps({1277: {"k": 1}})) == {"1277": {"k": 1}}


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")]
)
def test_non_finite_decimals_are_refused(value: Decimal) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        wire.dumps({"amount": value})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_floats_are_refused(value: float) -> None:
    with pytest.raises(ValueError):
        wire.dumps([value])


@pytest.mark.parametrize("value", [{1, 2}, object(), b"bytes"])
def test_unknown_types_are_refused(value: Any) -> None:
    with pytest.raises(TypeError, match="cannot write"):
        wire.dumps({"x": value})


# --- join / bulk_size -------------------------------------------------------------------------------


@given(st.lists(trees, max_size=8))
def test_join_is_a_json_array_of_the_batches(batches: list[Any]) -> None:
    body = wire.join([wire.dumps(b) for b in batches])
    assert typed(load(body)) == typed(batches)


@given(st.lists(st.binary(max_size=50), max_size=30))
def test_bulk_size_agrees_with_join(batches: list[bytes]) -> None:
    assert wire.bulk_size(sum(map(len, batches)), len(batches)) == len(wire.join(batches))


def test_join_edges() -> None:
    assert wire.join([]) == b"[]"
    assert wire.bulk_size(0, 0) == 2
    assert wire.join([b"{}"]) == b"[{}]"
    assert wire.bulk_size(2, 1) == 4
    assert wire.join([b"{}", b"{}"]) == b"[{},{}]"
    assert wire.bulk_size(4, 2) == 7


# --- the marker a Decimal is written as, before its text replaces it ---------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "\x00decimal\x00",  # the marker itself
        'x"\x00decimal\x00',  # its encoded token ends inside this string's token
        "\x00decimal\x00\x00decimal\x00",
    ],
)
def test_strings_that_spell_the_marker_are_kept_and_decimals_stay_exact(text: str) -> None:
    tree = {text: text, "amount": Decimal("19.990"), "list": [text, Decimal("-1E+2"), {"k": text}]}
    body = wire.dumps(tree)
    assert load(body) == {
        text: text,
        "amount": Decimal("19.990"),
        "list": [text, Decimal("-1E+2"), {"k": text}],
    }
    assert b"19.990" in body and b"-1E+2" in body


@given(trees, st.sampled_from(["\x00decimal\x00", 'a"\x00decimal\x00']))
def test_round_trip_with_the_marker_among_the_strings(tree: Any, text: str) -> None:
    mixed = [tree, text, Decimal("0.10"), {text: Decimal("7")}]
    assert typed(load(wire.dumps(mixed))) == typed(mixed)


def test_a_lone_surrogate_raises_unicode_encode_error() -> None:
    with pytest.raises(UnicodeEncodeError):
        wire.dumps({"name": "\ud800", "amount": Decimal("1.5")})


@pytest.mark.parametrize("container", [list, dict])
def test_nesting_past_the_limit_raises_recursion_error(container: type) -> None:
    def nest(depth: int) -> Any:
        value: Any = Decimal("1")
        for _ in range(depth):
            value = [value] if container is list else {"k": value}
        return value

    assert load(wire.dumps(nest(wire.MAX_DEPTH))) == nest(wire.MAX_DEPTH)
    with pytest.raises(RecursionError):
        wire.dumps(nest(wire.MAX_DEPTH + 1))


# --- orjson is the fast path of exact(); both must write the same JSON -------------------------------


@given(trees)
def test_the_fast_path_and_the_exact_writer_agree(tree: Any) -> None:
    assert typed(load(wire.dumps(tree))) == typed(load(wire.exact(tree))) == typed(tree)


@pytest.mark.parametrize(
    "value",
    [
        2**64,  # past orjson's integers
        -(2**70),
        {"id": 123456789012345678901234567890},
        {"a": None, "amount": Decimal("1.10")},  # a null sends the batch through exact()
        {"nested": [[[[[[[[Decimal("2.50")]]]]]]]]},
    ],
)
def test_values_orjson_refuses_or_may_misread_are_written_exactly(value: Any) -> None:
    assert wire.dumps(value) == wire.exact(value)
    assert typed(load(wire.dumps(value))) == typed(value)


@pytest.mark.parametrize("null", [False, True], ids=["orjson", "exact (a null)"])
def test_sorted_keys_give_one_text_for_equal_values(null: bool) -> None:
    """batch.py derives the dedup ids from this text: key order must not change it, on either path."""
    inner = {"d": Decimal("1.50"), "c": None} if null else {"d": Decimal("1.50"), "c": 2}
    one = {"b": "é", "a": [inner]}
    other = {"a": [dict(reversed(inner.items()))], "b": "é"}
    text = wire.dumps(one, sort_keys=True)
    assert text == wire.dumps(other, sort_keys=True)
    assert text == ('{"a":[{"c":%s,"d":1.50}],"b":"é"}' % ("null" if null else "2")).encode()
