"""The mapping language (mapping.py): compiling a document, the named conversions, and applying a mapping."""

import json
from decimal import Decimal
from typing import Any

import pytest

from rokt_forwarder.errors import ConfigError, RefusedError, SkippedError
from rokt_forwarder.mapping import (
    NO_MAPPINGS,
    THREE_DECIMAL_CURRENCIES,
    ZERO_DECIMAL_CURRENCIES,
    Mappings,
    compile_mappings,
)

ORDERS = {
    "name": "orders",
    "match": "kind == 'order'",
    "event": "topic",
    "convert": "topic == 'order.paid'",
    "fields": {
        "email": "buyer.email",
        "amount": "minor_units(total_cents, currency)",
        "currency": "upper(currency)",
        "rtid": "query_param(landing, 'rtid')",
    },
}


def evaluate(expression: str, document: Any) -> Any:
    """One expression through a mapping whose only field is custom_attributes.value."""
    mapping = compile_mappings({"name": "t", "match": "`true`", "fields": {"custom_attributes": expression}})
    flat = mapping.convert(document)
    assert flat is not None
    return flat.get("custom_attributes")


def value(expression: str, document: Any = None) -> Any:
    found = evaluate(f"{{v: {expression}}}", document or {})
    return None if found is None else found["v"]


# --- minor units: Stripe's table --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (4999, "usd", "49.99"),  # two decimals: cents
        (4999, "USD", "49.99"),
        (5000, "usd", "50.00"),  # exact as Stripe means it, trailing zeros kept
        (0, "eur", "0.00"),
        (1, "gbp", "0.01"),
        (500, "jpy", "500"),  # zero-decimal: the amount is the price
        (12345, "krw", "12345"),
        (5120, "kwd", "5.120"),  # three-decimal: fils
        (1000, "bhd", "1.000"),
        (2500, "jod", "2.500"),
        (990, "omr", "0.990"),
        (10010, "tnd", "10.010"),
        (500, "isk", "5.00"),  # Stripe: ISK amounts carry two decimals
        (123456789012345678901, "usd", "1234567890123456789.01"),  # no float anywhere
    ],
)
def test_minor_units(amount: int, currency: str, expected: str) -> None:
    result = value(f"minor_units(`{amount}`, '{currency}')")
    assert isinstance(result, Decimal)
    assert str(result) == expected


def test_stripes_lists_as_documented() -> None:
    # https://docs.stripe.com/currencies#zero-decimal and #three-decimal
    assert {"JPY", "KRW", "VND", "CLP", "UGX"} <= ZERO_DECIMAL_CURRENCIES
    assert len(ZERO_DECIMAL_CURRENCIES) == 16
    assert frozenset({"BHD", "JOD", "KWD", "OMR", "TND"}) == THREE_DECIMAL_CURRENCIES
    assert not ZERO_DECIMAL_CURRENCIES & THREE_DECIMAL_CURRENCIES


def test_minor_units_takes_an_integral_number_written_as_text_or_decimal() -> None:
    assert str(value("minor_units(a, 'usd')", {"a": "4999"})) == "49.99"
    assert str(value("minor_units(a, 'usd')", json.loads('{"a": 4999.0}', parse_float=Decimal))) == "49.99"
    assert value("minor_units(missing, 'usd')") is None


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"a": 49.99, "c": "usd"}, "amount: minor_units() needs a whole number"),
        ({"a": "49.99", "c": "usd"}, "amount: minor_units() needs a whole number"),
        ({"a": True, "c": "usd"}, "amount: minor_units() needs a whole number"),
        ({"a": 4999}, "amount: minor_units() needs the 3-letter currency code"),
        ({"a": 4999, "c": "dollars"}, "amount: minor_units() needs the 3-letter currency code"),
    ],
)
def test_minor_units_refuses_what_it_cannot_convert_without_showing_the_value(
    document: dict[str, Any], problem: str
) -> None:
    mapping = compile_mappings({"name": "t", "match": "`true`", "fields": {"amount": "minor_units(a, c)"}})
    with pytest.raises(RefusedError) as refused:
        mapping.convert(json.loads(json.dumps(document), parse_float=Decimal))
    assert refused.value.reason == problem


# --- the other named conversions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/?rtid=abc123", "abc123"),
        ("/products/ipod?utm_source=rokt&rtid=abc%2F123#reviews", "abc/123"),
        ("https://shop.example.com/?rtid=first&rtid=second", "first"),
        ("https://shop.example.com/", None),
        ("/?rtid=", None),
        ("", None),
        ("http://[not-an-ip/?rtid=x", None),  # unparseable: no parameter, not a failure
    ],
)
def test_query_param(url: str, expected: str | None) -> None:
    assert value("query_param(u, 'rtid')", {"u": url}) == expected


def test_query_param_of_nothing_is_nothing() -> None:
    assert value("query_param(u, 'rtid')", {"u": None}) is None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("lower(' Jane@Example.COM ')", " jane@example.com "),
        ("upper('usd')", "USD"),
        ("trim('  x  ')", "x"),
        ("trim(lower(' A '))", "a"),
        ("first_name('Jenny Rosen')", "Jenny"),
        ("last_name('Jenny Rosen')", "Rosen"),
        ("first_name('  Mary Ann  Smith ')", "Mary"),
        ("last_name('Mary Ann  Smith')", "Ann Smith"),
        ("first_name('Cher')", "Cher"),
        ("last_name('Cher')", None),
        ("first_name('   ')", None),
        ("seconds_to_ms(`1679600217`)", 1679600217000),
        ("seconds_to_ms('1679600217')", 1679600217000),
        ("lower(missing)", None),
        ("first_name(missing)", None),
        ("seconds_to_ms(missing)", None),
    ],
)
def test_named_conversions(expression: str, expected: Any) -> None:
    assert value(expression) == expected


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("lower(`3`)", "lower() needs a string"),
        ("first_name(`[1]`)", "first_name() needs a string"),
        ("seconds_to_ms('soon')", "seconds_to_ms() needs a whole number"),
    ],
)
def test_a_conversion_given_the_wrong_type_names_the_field(expression: str, problem: str) -> None:
    mapping = compile_mappings({"name": "t", "match": "`true`", "fields": {"customerid": expression}})
    with pytest.raises(RefusedError) as refused:
        mapping.convert({})
    assert refused.value.reason == f"customerid: {problem}"


def test_decimals_stay_exact_through_jmespath() -> None:
    document = json.loads('{"items": [{"price": 19.99}, {"price": 0.01}]}', parse_float=Decimal)
    assert value("sum(items[].price)", document) == Decimal("20.00")
    assert value("to_string(items[0].price)", document) == "19.99"
    assert value("to_number('19.99')") == Decimal("19.99")
    assert value("max(items[].price)", document) == Decimal("19.99")


# --- applying a mapping -----------------------------------------------------------------------------


def test_a_mapping_makes_the_flat_conversion() -> None:
    mappings = compile_mappings(ORDERS)
    event = {
        "kind": "order",
        "topic": "order.paid",
        "buyer": {"email": "jane@example.com"},
        "total_cents": 4999,
        "currency": "usd",
        "landing": "/?rtid=r-1",
    }
    assert mappings.convert(event) == {
        "email": "jane@example.com",
        "amount": Decimal("49.99"),
        "currency": "USD",
        "rtid": "r-1",
    }


def test_absent_and_empty_values_are_left_out() -> None:
    mappings = compile_mappings(
        {
            "name": "t",
            "match": "`true`",
            "fields": {
                "email": "email",
                "customerid": "id",
                "productname": "items[0].name",
                "custom_attributes": "{a: a, b: b, c: c}",
            },
        }
    )
    assert mappings.convert({"email": "  ", "id": 7, "items": [], "a": "", "b": None, "c": 0}) == {
        "customerid": 7,
        "custom_attributes": {"c": 0},
    }


def test_an_event_the_mapping_does_not_own_is_left_to_the_next() -> None:
    mappings = compile_mappings(ORDERS) + compile_mappings(
        {"name": "other", "match": "kind == 'refund'", "fields": {"customerid": "id"}}
    )
    assert mappings.convert({"kind": "refund", "id": "c-1"}) == {"customerid": "c-1"}
    assert mappings.convert({"email": "jane@example.com"}) is None
    assert NO_MAPPINGS.convert({"kind": "order"}) is None


def test_the_first_mapping_that_owns_an_event_maps_it() -> None:
    first = compile_mappings({"name": "mine", "match": "kind == 'order'", "fields": {"customerid": "'mine'"}})
    assert (first + compile_mappings(ORDERS)).convert({"kind": "order"}) == {"customerid": "mine"}
    assert (first + compile_mappings(ORDERS)).names == ("mine", "orders")


def test_a_match_that_does_not_fit_the_event_means_not_owned() -> None:
    mappings = compile_mappings(
        {"name": "t", "match": "starts_with(source, 'x')", "fields": {"customerid": "id"}}
    )
    assert mappings.convert({"source": 42, "id": "c"}) is None
    assert mappings.convert({"id": "c"}) is None  # starts_with(null, …) is a type error too


def test_an_event_that_is_not_a_conversion_is_skipped_with_its_kind() -> None:
    mappings = compile_mappings(ORDERS)
    with pytest.raises(SkippedError) as skipped:
        mappings.convert({"kind": "order", "topic": "order.updated"})
    assert skipped.value.reason == "orders: order.updated does not meet the mapping's convert"


@pytest.mark.parametrize("topic", ["jane@example.com", "+1 212 555 0100", None, 42, "x" * 65])
def test_a_skip_reason_never_shows_what_is_not_a_plain_event_kind(topic: Any) -> None:
    with pytest.raises(SkippedError) as skipped:
        compile_mappings(ORDERS).convert({"kind": "order", "topic": topic})
    assert skipped.value.reason == "orders: the event does not meet the mapping's convert"


def test_a_mapping_without_convert_converts_everything_it_owns() -> None:
    mappings = compile_mappings({"name": "t", "match": "kind == 'order'", "fields": {"customerid": "id"}})
    assert mappings.convert({"kind": "order", "id": "c"}) == {"customerid": "c"}


def test_an_expression_that_fails_is_refused_without_the_value() -> None:
    mappings = compile_mappings({"name": "t", "match": "`true`", "fields": {"quantity": "sum(items)"}})
    with pytest.raises(RefusedError) as refused:
        mappings.convert({"items": ["secret@example.com"]})
    assert refused.value.reason == "quantity: the t mapping's expression met a value of another type"
    assert "secret" not in refused.value.reason


def test_a_convert_that_fails_is_refused() -> None:
    mappings = compile_mappings(
        {"name": "t", "match": "`true`", "convert": "sum(items) > `1`", "fields": {"customerid": "id"}}
    )
    with pytest.raises(RefusedError) as refused:
        mappings.convert({"items": "abc"})
    assert refused.value.reason == "convert: the t mapping's expression met a value of another type"


def test_every_failing_field_is_named_at_once() -> None:
    mappings = compile_mappings(
        {"name": "t", "match": "`true`", "fields": {"amount": "minor_units(a, c)", "customerid": "lower(n)"}}
    )
    with pytest.raises(RefusedError) as refused:
        mappings.convert({"a": "x", "c": "usd", "n": 1})
    assert (
        refused.value.reason
        == "amount: minor_units() needs a whole number; customerid: lower() needs a string"
    )


# --- compiling: one clear error naming the field ------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ("x", "the mapping document: must be an object with match and fields"),
        ([], "the mapping document is an empty list: give at least one mapping"),
        (
            {**ORDERS, "feilds": {}},
            "feilds: unknown key (a mapping has name, description, match, event, convert, fields)",
        ),
        ({**ORDERS, "name": None}, "name: is required: 1 to 64 letters, digits, '_' or '-'"),
        ({**ORDERS, "name": "my mapping"}, "name: is required: 1 to 64 letters, digits, '_' or '-'"),
        ({**ORDERS, "description": 3}, "description: must be a string"),
        (
            {k: v for k, v in ORDERS.items() if k != "match"},
            "match: must be a JMESPath expression (a non-empty string)",
        ),
        ({**ORDERS, "fields": {}}, "fields: is required: an object of flat conversion fields to expressions"),
        (
            {**ORDERS, "fields": {"ammount": "a"}},
            "fields.ammount: not a field of a flat conversion (one of email,",
        ),
        (
            {**ORDERS, "fields": {"amount": 3}},
            "fields.amount: must be a JMESPath expression (a non-empty string)",
        ),
        ({**ORDERS, "fields": {"amount": "a.["}}, "fields.amount: not a valid JMESPath expression: "),
        ({**ORDERS, "convert": "topic =="}, "convert: not a valid JMESPath expression: "),
        (
            {**ORDERS, "fields": {"amount": "cents(a)"}},
            "fields.amount: unknown function cents() (the named conv",
        ),
        (
            {**ORDERS, "fields": {"amount": "minor_units(a)"}},
            "fields.amount: minor_units() takes 2 argument(s), not 1",
        ),
        ({**ORDERS, "event": "lower(a, b)"}, "event: lower() takes 1 argument(s), not 2"),
        ([ORDERS, {**ORDERS, "fields": {"x": "a"}}], "[1].fields.x: not a field of a flat conversion"),
    ],
)
def test_a_bad_document_is_refused_naming_the_field(document: Any, error: str) -> None:
    with pytest.raises(ConfigError) as refused:
        compile_mappings(document)
    assert str(refused.value).startswith(error)


def test_variadic_and_nested_calls_are_checked_too() -> None:
    assert compile_mappings({**ORDERS, "fields": {"productname": "join(', ', items[].name)"}})
    with pytest.raises(ConfigError, match=r"fields.sku: unknown function nope\(\)"):
        compile_mappings({**ORDERS, "fields": {"sku": "items[?nope(name)].sku | [0]"}})


def test_a_list_of_mappings_keeps_its_order() -> None:
    assert compile_mappings([ORDERS, {**ORDERS, "name": "second"}]).names == ("orders", "second")


def test_mappings_add_up() -> None:
    assert (Mappings() + compile_mappings(ORDERS)).names == ("orders",)
