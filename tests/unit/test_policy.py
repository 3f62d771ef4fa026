"""policy.decide for every status of the API's error table, partial 202s, redaction, and backoff."""

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rokt_forwarder import policy
from rokt_forwarder.policy import Accepted, GiveUp, ReloadCredentials, Retry, Split, decide
from rokt_forwarder.reasons import redact

PII = "jane.secret@example.com"
# The form seen live (docs/event-api.md): quotes around the value arrive HTML-escaped.
GUID_ERROR = (
    f"Error converting value &quot;{PII}&quot; to type 'System.Guid'. "
    "Path '[1].device_info.ios_advertising_id', line 1, position 153."
)


def errors(*messages: str) -> bytes:
    return json.dumps({"errors": [{"code": "BAD_REQUEST", "message": m} for m in messages]}).encode()


# --- 2xx --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"  \n", b"{}"])
@pytest.mark.parametrize("status", [200, 202])
def test_accepted_with_an_empty_body(status: int, body: bytes) -> None:
    assert decide(status, body, None, batches=3) == Accepted({}, [])


def test_partial_202_refuses_the_named_batch_and_redacts_the_value() -> None:
    decision = decide(202, errors(GUID_ERROR), None, batches=3)
    assert isinstance(decision, Accepted)
    assert list(decision.refused) == [1]
    assert decision.unplaced == []
    reason = decision.refused[1]
    assert PII not in reason
    assert "jane" not in reason and "&quot;" not in reason
    assert "Path 'device_info.ios_advertising_id'" in reason and reason.startswith("API refused: ")
    assert reason.startswith('API refused: Error converting value "…"')


def test_partial_202_with_several_batches_refused() -> None:
    body = errors(GUID_ERROR, GUID_ERROR.replace("[1]", "[0]"), GUID_ERROR.replace("[1]", "[4]"))
    decision = decide(202, body, None, batches=5)
    assert isinstance(decision, Accepted)
    assert sorted(decision.refused) == [0, 1, 4]
    assert decision.unplaced == []
    assert all(PII not in reason for reason in decision.refused.values())


def test_the_first_error_for_a_batch_is_kept() -> None:
    body = errors("first problem. Path '[2].x'", "second problem. Path '[2].y'")
    decision = decide(202, body, None, batches=3)
    assert decision == Accepted({2: "API refused: first problem. Path 'x'"}, [])


def test_202_with_an_unplaceable_error() -> None:
    decision = decide(202, errors(f"Something about &quot;{PII}&quot; went wrong"), None, batches=3)
    assert isinstance(decision, Accepted)
    assert decision.refused == {}
    assert decision.unplaced == ['API refused: … "…" … wrong'], "words outside the vocabulary are withheld"


def test_202_error_naming_a_batch_that_is_not_in_the_request_is_unplaced() -> None:
    decision = decide(202, errors(GUID_ERROR.replace("[1]", "[7]")), None, batches=3)
    assert isinstance(decision, Accepted)
    assert decision.refused == {}
    assert len(decision.unplaced) == 1
    assert PII not in decision.unplaced[0]


def test_single_batch_202_with_errors_refuses_that_batch() -> None:
    for message in (GUID_ERROR, "no path at all"):
        decision = decide(202, errors(message), None, batches=1)
        assert isinstance(decision, Accepted)
        assert list(decision.refused) == [0]
        assert decision.unplaced == []
        assert PII not in decision.refused[0]


def test_an_error_naming_the_index_one_past_the_last_batch_is_unplaced() -> None:
    """Indexes count from 0: in a request of 3 batches, `[3]` names none of them (an off-by-one would)."""
    decision = decide(202, errors(GUID_ERROR.replace("[1]", "[3]")), None, batches=3)
    assert isinstance(decision, Accepted)
    assert (decision.refused, len(decision.unplaced)) == ({}, 1)
    assert list(decide(202, errors(GUID_ERROR.replace("[1]", "[2]")), None, batches=3).refused) == [2]


def test_202_with_a_non_json_body_is_unplaced() -> None:
    assert decide(202, b"accepted-ish", None, batches=2) == Accepted({}, [])


def test_error_entries_without_message_use_the_code() -> None:
    body = json.dumps({"errors": [{"code": "BAD_REQUEST"}]}).encode()
    assert decide(400, body, None, batches=1) == Split("API refused: HTTP 400: BAD_REQUEST")


# --- 4xx, 5xx ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 413])
def test_request_refused_as_a_whole(status: int) -> None:
    decision = decide(status, errors(GUID_ERROR), None, batches=2)
    assert isinstance(decision, Split)
    assert decision.reason.startswith(f"API refused: HTTP {status}: Error converting value")
    assert PII not in decision.reason


def test_400_without_body() -> None:
    assert decide(400, b"", None, batches=2) == Split("API refused: HTTP 400")


@pytest.mark.parametrize("status", [401, 403])
def test_unauthorized(status: int) -> None:
    assert decide(status, b"", None, batches=1) == ReloadCredentials(f"HTTP {status}")


def test_429_with_retry_after() -> None:
    assert decide(429, b"", 7.0, batches=4) == Retry("HTTP 429", 7.0)


def test_429_without_retry_after() -> None:
    assert decide(429, b"", None, batches=4) == Retry("HTTP 429", None)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_with_backoff(status: int) -> None:
    decision = decide(status, b"", None, batches=1)
    assert decision == Retry(f"HTTP {status}")
    assert isinstance(decision, Retry) and decision.after is None


@pytest.mark.parametrize("status", [404, 405, 409, 301, 100])
def test_other_statuses_give_up(status: int) -> None:
    assert decide(status, b"", None, batches=1) == GiveUp(f"HTTP {status}")


def test_non_json_error_body_is_summarised_never_quoted() -> None:
    html_page = f"<html><body>Bad gateway for &quot;{PII}&quot;</body></html>" + "x" * 2000
    decision = decide(502, html_page.encode(), None, batches=1)
    assert isinstance(decision, Retry)
    assert decision.reason == "HTTP 502: non-JSON body"


def test_invalid_utf8_body_does_not_raise() -> None:
    decision = decide(500, b"\xff\xfe broken", None, batches=1)
    assert isinstance(decision, Retry)
    assert decision.reason.startswith("HTTP 500: ")


# --- redact -----------------------------------------------------------------------------------------


def test_redact_drops_quoted_values_but_keeps_the_path() -> None:
    assert redact(GUID_ERROR) == (
        "Error converting value \"…\" to type 'System.Guid'. Path '[1].device_info.ios_advertising_id', "
        "line 1, position 153."
    )
    assert redact("Value 'Jane' is invalid") == 'Value "…" is invalid'
    assert redact('raw "Jane" here') == '… "…" …', "words outside the vocabulary are withheld"


def test_redact_masks_emails_ips_and_phone_numbers_outside_quotes() -> None:
    message = "Invalid jane.doe@example.com from 203.0.113.10, phone +1 (323) 867-5309. Path '[0].x'"
    assert redact(message) == "Invalid … from …, phone …. Path '[0].x'"


def test_202_whose_body_is_not_an_error_list_is_an_acceptance() -> None:
    assert decide(202, b'{"request_id": "abc"}', None, batches=1) == Accepted({}, [])


def test_408_is_retried() -> None:
    assert isinstance(decide(408, b"", None, batches=1), Retry)


@given(st.from_regex(r"[A-Za-z0-9.@+_-]{1,40}", fullmatch=True))
def test_redact_never_leaks_an_escaped_value(value: str) -> None:
    message = f"Error converting value &quot;{value}&quot; to type 'System.Int64'. Path '[0].x', line 1."
    redacted = redact(message)
    assert f'"{value}"' not in redacted
    assert redacted.startswith('Error converting value "…" to type')


# --- decide never raises, whatever the body -------------------------------------------------------


@pytest.mark.parametrize("status", [202, 400, 503])
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"errors": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        errors("Bad value. Path '[" + "4" * 4_400 + "].x'"),
        errors("&#" + "9" * 5_000 + "; Path 'x'"),
        json.dumps({"errors": [{"message": [[[["deep"]]]], "code": {"x": 1}}, None, 7]}).encode(),
    ],
    ids=["100k-brackets", "nested-error-entry", "4400-digit-index", "5000-digit-reference", "odd-entries"],
)
def test_decide_never_raises_on_a_hostile_body(status: int, body: bytes) -> None:
    decision = decide(status, body, None, batches=3)
    if status == 202:
        assert isinstance(decision, Accepted)
        assert decision.refused == {}, "no entry names a batch of this request"
    else:
        assert isinstance(decision, Split | Retry)


@given(status=st.integers(100, 599), body=st.binary(max_size=300), batches=st.integers(1, 100))
def test_decide_never_raises_for_any_bytes(status: int, body: bytes, batches: int) -> None:
    assert isinstance(
        decide(status, body, None, batches=batches), Accepted | Split | ReloadCredentials | Retry | GiveUp
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["errors", "message", "code"]), inner)
    ),
    max_leaves=20,
)


@given(status=st.sampled_from([202, 400, 429]), body=json_values, batches=st.integers(1, 100))
def test_decide_never_raises_for_any_json(status: int, body: object, batches: int) -> None:
    decision = decide(status, json.dumps(body).encode(), None, batches=batches)
    if isinstance(decision, Accepted):
        assert all(0 <= index < batches for index in decision.refused)


# --- backoff ----------------------------------------------------------------------------------------


@given(
    attempt=st.integers(min_value=0, max_value=60),
    seed=st.integers(),
    base=st.floats(min_value=0.001, max_value=10),
    cap=st.floats(min_value=0.001, max_value=100),
)
def test_backoff_is_within_full_jitter_bounds(attempt: int, seed: int, base: float, cap: float) -> None:
    wait = policy.backoff(attempt, random.Random(seed), base=base, cap=cap)
    assert 0 <= wait <= min(cap, base * 2**attempt)


@given(attempt=st.integers(min_value=0, max_value=60), seed=st.integers())
def test_backoff_defaults(attempt: int, seed: int) -> None:
    wait = policy.backoff(attempt, random.Random(seed))
    assert 0 <= wait <= min(8.0, 0.25 * 2**attempt)


def test_backoff_grows_then_caps() -> None:
    rng = random.Random(0)
    first = [policy.backoff(0, rng) for _ in range(200)]
    late = [policy.backoff(10, rng) for _ in range(200)]
    assert max(first) <= 0.25
    assert max(late) <= 8.0
    assert max(late) > 4.0  # uses the cap, not stuck at the base


def test_backoff_with_a_huge_attempt_stays_at_the_cap() -> None:
    assert 0 <= policy.backoff(2000, random.Random(0)) <= 8.0


@pytest.mark.parametrize(
    ("message", "redacted"),
    [
        (
            "Could not convert string to DateTime: Jane Smith. Path '[0].x', line 1, position 9.",
            "Could not convert string to DateTime: …. Path '[0].x', line 1, position 9.",
        ),
        ("Path 'data.phone' value '5550123' bad", "Path 'data.phone' value \"…\" bad"),
        ("to type 'System.Int64'. Path '[2].y'", "to type 'System.Int64'. Path '[2].y'"),
    ],
)
def test_redact_keeps_paths_and_types_and_masks_unquoted_values(message: str, redacted: str) -> None:
    assert redact(message) == redacted


# --- redaction is an allow-list: what the issue found leaking ---------------------------------------


@pytest.mark.parametrize(
    ("message", "leaks"),
    [
        (
            'Error converting value "Jane "Janie" Doe, 12 Elm St" to type \'System.Guid\'.',
            ["Jane", "Janie", "Doe", "Elm", "12"],
        ),
        ("Invalid value 'O'Brien' for lastname. Path '[0].x'", ["O'Brien", "Brien"]),
        ("Invalid zip 90210 near 10001. Path '[0].x'", ["90210", "10001"]),
        ("Bad value for Path 'user_attributes.jane@example.com'", ["jane@example.com", "jane"]),
        ("Something about Marie Curie went wrong", ["Marie", "Curie"]),
    ],
)
def test_redact_keeps_nothing_outside_its_vocabulary(message: str, leaks: list[str]) -> None:
    redacted = redact(message)
    assert not [leak for leak in leaks if leak in redacted], redacted


def test_redact_keeps_structure_a_reader_needs() -> None:
    assert redact("Invalid value. Path '[0].user_identities.email', rule: must be an email address.") == (
        "Invalid value. Path '[0].user_identities.email', rule: must be an email address."
    )
    assert redact(
        "Error converting value &quot;x&quot; to type 'System.Guid'. Path 'a.b', line 1, position 153."
    ) == ("Error converting value \"…\" to type 'System.Guid'. Path 'a.b', line 1, position 153.")


def test_redact_bounds_its_output() -> None:
    assert len(redact("error " * 1000)) <= 500


def test_redact_reads_a_long_text_up_to_its_limit_and_withholds_the_rest() -> None:
    path = "Invalid value. Path 'user_attributes.x'"
    assert redact(path + " x" * 40_000) == "Invalid value. Path 'user_attributes.x' …"
    assert redact(")" * 100_000 + "x") == "…"
    assert redact("Bad value. errorjane" + "y" * 100_000) == "Bad value. …", "a word cut in two is withheld"
