"""message.parse_message: each flat field's type and rule, unknown keys, and PII-free error text."""

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from literals import NOW_MS

from rokt_forwarder import limits
from rokt_forwarder.envelope import parse_json
from rokt_forwarder.errors import RefusedError
from rokt_forwarder.message import FIELDS, Conversion, FullBatch, parse_message

HOUR_MS = 3_600_000
SHA = "a" * 64
BASE = {"customerid": "cust-1"}  # one identity-free field would do; this keeps messages realistic


def parse(**fields: Any) -> dict[str, Any]:
    message = parse_message({**BASE, **fields}, now_ms=NOW_MS)
    assert isinstance(message, Conversion)
    return dict(message.fields)


def problem(**fields: Any) -> str:
    with pytest.raises(RefusedError) as error:
        parse_message({**BASE, **fields}, now_ms=NOW_MS)
    return error.value.reason


# --- classification ---------------------------------------------------------------------------------


def test_payload_with_events_is_a_full_batch() -> None:
    payload = {"events": [], "whatever": {"kept": True}}
    message = parse_message(payload, now_ms=NOW_MS)
    assert message == FullBatch(payload)


def test_flat_payload_is_a_conversion() -> None:
    assert parse_message({"email": "jane@example.com"}, now_ms=NOW_MS) == Conversion(
        {"email": "jane@example.com"}
    )


def test_the_parser_knows_every_field_of_the_issue() -> None:
    assert set(FIELDS) == {
        *("email", "other", "customerid", "rtid"),
        *("firstname", "lastname", "mobile", "ipaddress", "billingzipcode", "dateofbirth", "gender"),
        *("amount", "currency", "quantity", "conversiontype", "productname", "sku", "paymenttype"),
        *("margin", "transactionid", "confirmationref"),
        *("environment", "timestamp", "user_agent", "custom_attributes", "user_attributes"),
        "consent_state",  # issue 16
    }


# --- unknown keys, null values, several problems ----------------------------------------------------


def test_unknown_key_is_an_error_and_its_value_is_not_echoed() -> None:
    reason = problem(emial="jane.secret@example.com")
    assert reason == "emial: unknown field"
    assert "jane.secret" not in reason


def test_null_values_are_treated_as_absent() -> None:
    assert parse(email=None, amount=None, firstname=None) == {"customerid": "cust-1"}


def test_every_problem_is_reported_at_once() -> None:
    reason = problem(
        email="not-an-email",
        currency="dollars",
        quantity=-1,
        colour="red",
        amount="lots",
        environment="staging",
    )
    assert reason.split("; ") == [
        "email: must be an email address",
        "currency: must be a 3-letter currency code",
        "quantity: must be a whole number ≥ 0",
        "colour: unknown field",
        "amount: must be a decimal number",
        "environment: must be development or production",
    ]
    for value in ("not-an-email", "dollars", "lots", "staging", "red"):
        assert value not in reason


# --- identities -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jane@example.com", "jane@example.com"),
        ("  jane.doe+tag@mail.example.co.uk ", "jane.doe+tag@mail.example.co.uk"),
        ("Jane@Example.COM", "Jane@Example.COM"),
    ],
)
def test_email_accepted_and_trimmed(value: str, expected: str) -> None:
    assert parse(email=value)["email"] == expected


@pytest.mark.parametrize(
    "value",
    [
        "jane.secret",
        "jane.secret@example",
        "jane.secret@@example.com",
        "jane secret@example.com",
        "@example.com",
    ],
)
def test_bad_email_is_named_but_not_echoed(value: str) -> None:
    reason = problem(email=value)
    assert reason == "email: must be an email address"
    assert "jane" not in reason and "example" not in reason


@pytest.mark.parametrize("value", [42, True, ["jane@example.com"], {"v": "jane@example.com"}])
def test_email_of_wrong_type(value: Any) -> None:
    assert problem(email=value) == "email: must be an email address"


@pytest.mark.parametrize("value", ["0" * 64, "0123456789abcdef" * 4, "  " + "f" * 64 + " ", "A" * 64])
def test_other_accepts_64_hex(value: str) -> None:
    assert parse(other=value)["other"] == value.strip().lower()


@pytest.mark.parametrize("value", ["a" * 63, "a" * 65, "g" * 64, "jane@example.com", 12345, ""])
def test_other_must_be_64_hex(value: Any) -> None:
    reason = problem(other=value)
    assert reason == "other: must be a SHA-256 hex digest (64 hex characters)"
    if isinstance(value, str) and value:
        assert value not in reason


def test_upper_case_other_is_sent_lower_case() -> None:
    assert parse(other="AB" * 32)["other"] == "ab" * 32


@pytest.mark.parametrize("field", ["customerid", "rtid"])
def test_ids_accept_strings_and_integers_as_strings(field: str) -> None:
    assert parse(**{field: "C-42"})[field] == "C-42"
    assert parse(**{field: 12345678901234567890})[field] == "12345678901234567890"
    assert parse(**{field: 0})[field] == "0"


@pytest.mark.parametrize("field", ["customerid", "rtid"])
@pytest.mark.parametrize("value", [True, Decimal("1.5"), ["x"], {"id": "x"}])
def test_ids_of_wrong_type(field: str, value: Any) -> None:
    assert problem(**{field: value}) == f"{field}: must be a string"


# --- user attributes --------------------------------------------------------------------------------

USER = ["firstname", "lastname", "mobile", "ipaddress", "billingzipcode", "dateofbirth", "gender"]


@pytest.mark.parametrize("field", USER)
def test_user_fields_are_strings(field: str) -> None:
    assert parse(**{field: "Value-1"})[field] == "Value-1"


@pytest.mark.parametrize("field", USER)
def test_user_fields_accept_integers_as_strings(field: str) -> None:
    assert parse(**{field: 90210})[field] == "90210"


@pytest.mark.parametrize("field", USER)
@pytest.mark.parametrize("value", [False, Decimal("1.5"), ["Jane"], {"v": "Jane"}])
def test_user_fields_of_wrong_type_are_named_without_the_value(field: str, value: Any) -> None:
    reason = problem(**{field: value})
    assert reason == f"{field}: must be a string"
    assert "Jane" not in reason


# --- event attributes -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["amount", "margin"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("19.99"), Decimal("19.99")),
        (Decimal("12345678901234567.89"), Decimal("12345678901234567.89")),
        (20, 20),
        (0, 0),
        (Decimal("0.00"), Decimal("0.00")),
        ("19.99", Decimal("19.99")),
        (" 100.00 ", Decimal("100.00")),
        ("0", Decimal("0")),
        ("-5.5", Decimal("-5.5")),
    ],
)
def test_decimal_fields(field: str, value: Any, expected: Any) -> None:
    parsed = parse(**{field: value})[field]
    assert parsed == expected
    assert str(parsed) == str(expected)
    assert not isinstance(parsed, float)


def test_amount_zero_is_kept() -> None:
    fields = parse(amount=0)
    assert "amount" in fields
    assert fields["amount"] == 0


@pytest.mark.parametrize("field", ["amount", "margin"])
@pytest.mark.parametrize(
    "value", ["lots", "", "19,99", "NaN", "Infinity", "-inf", True, [1], {"v": 1}, Decimal("NaN")]
)
def test_decimal_fields_refuse_non_numbers(field: str, value: Any) -> None:
    assert problem(**{field: value}) == f"{field}: must be a decimal number"


@pytest.mark.parametrize("value", ["USD", "CAD", "eur"])
def test_currency_accepted(value: str) -> None:
    assert parse(currency=value)["currency"] == value.strip().upper()


@pytest.mark.parametrize("value", ["US", "USDX", "U5D", "$", "", 840, "U S"])
def test_currency_must_be_three_letters(value: Any) -> None:
    assert problem(currency=value) == "currency: must be a 3-letter currency code"


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (1, 1), (250, 250), ("3", 3), (" 7 ", 7)])
def test_quantity_accepted(value: Any, expected: int) -> None:
    parsed = parse(quantity=value)["quantity"]
    assert parsed == expected
    assert type(parsed) is int


@pytest.mark.parametrize("value", [-1, "-1", Decimal("1.5"), Decimal("2.0"), "1.5", "two", True, [], ""])
def test_quantity_must_be_a_whole_number(value: Any) -> None:
    assert problem(quantity=value) == "quantity: must be a whole number ≥ 0"


def test_quantity_superscript_digit_names_the_rule() -> None:
    reason = problem(quantity="²")
    assert reason == "quantity: must be a whole number ≥ 0"
    assert "²" not in reason


def test_a_quantity_of_thousands_of_digits_gets_a_reason_in_our_words() -> None:
    """int() refuses 5,000 digits with a message about Python; the reason names our rule, no value."""
    reason = problem(quantity="9" * 5_000)
    assert reason == "quantity: must be a whole number of at most 4300 digits"


TEXT_EVENT = ["conversiontype", "productname", "sku", "paymenttype", "transactionid", "confirmationref"]


@pytest.mark.parametrize("field", TEXT_EVENT)
def test_text_event_fields(field: str) -> None:
    assert parse(**{field: "X-1"})[field] == "X-1"
    assert parse(**{field: 230847})[field] == "230847"


@pytest.mark.parametrize("field", TEXT_EVENT)
def test_text_event_fields_of_wrong_type(field: str) -> None:
    assert problem(**{field: {"a": 1}}) == f"{field}: must be a string"
    assert problem(**{field: Decimal("1.5")}) == f"{field}: must be a string"


# --- options ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["development", "production"])
def test_environment_accepted(value: str) -> None:
    assert parse(environment=value)["environment"] == value


@pytest.mark.parametrize("value", ["staging", "prod", "", 1])
def test_environment_refused(value: Any) -> None:
    assert problem(environment=value) == "environment: must be development or production"


@pytest.mark.parametrize("value", [["production"], {"name": "production"}])
def test_environment_of_unhashable_type_is_a_message_error(value: Any) -> None:
    assert problem(environment=value) == "environment: must be development or production"


def test_user_agent() -> None:
    agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15"
    assert parse(user_agent=agent)["user_agent"] == agent
    assert problem(user_agent=["x"]) == "user_agent: must be a string"


@pytest.mark.parametrize("field", ["custom_attributes", "user_attributes"])
def test_attribute_maps_must_be_objects(field: str) -> None:
    assert parse(**{field: {"loyalty": "gold"}})[field] == {"loyalty": "gold"}
    for value in (["loyalty"], "loyalty=gold", 1):
        assert problem(**{field: value}) == f"{field}: must be an object"


# --- timestamp --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-12-31T12:00:00Z", NOW_MS - 12 * HOUR_MS),
        ("2025-12-31T12:00:00+00:00", NOW_MS - 12 * HOUR_MS),
        ("2025-12-31T14:00:00+02:00", NOW_MS - 12 * HOUR_MS),
        ("2025-12-31T07:00:00-05:00", NOW_MS - 12 * HOUR_MS),
        ("2025-12-31T12:00:00", NOW_MS - 12 * HOUR_MS),  # naive means UTC
        ("2025-12-31T12:00:00.123Z", NOW_MS - 12 * HOUR_MS + 123),
        (" 2025-12-31T12:00:00Z ", NOW_MS - 12 * HOUR_MS),
        ("2025-12-31", NOW_MS - 24 * HOUR_MS),
        (NOW_MS - 5000, NOW_MS - 5000),
        (NOW_MS, NOW_MS),
    ],
)
def test_timestamp_iso_or_epoch_ms(value: Any, expected: int) -> None:
    parsed = parse(timestamp=value)["timestamp"]
    assert parsed == expected
    assert type(parsed) is int


@given(st.integers(min_value=0, max_value=999))
def test_timestamp_iso_milliseconds_are_exact(millis: int) -> None:
    parsed = parse(timestamp=f"2025-12-31T23:59:59.{millis:03d}Z")["timestamp"]
    assert parsed == NOW_MS - 1000 + millis


def test_timestamp_age_boundary() -> None:
    assert parse(timestamp=NOW_MS - limits.MAX_EVENT_AGE_MS)["timestamp"] == NOW_MS - limits.MAX_EVENT_AGE_MS
    assert (
        problem(timestamp=NOW_MS - limits.MAX_EVENT_AGE_MS - 1) == "timestamp: must not be older than 30 days"
    )
    assert problem(timestamp="2025-11-01T00:00:00Z") == "timestamp: must not be older than 30 days"


def test_timestamp_in_epoch_seconds_is_too_old() -> None:
    assert problem(timestamp=NOW_MS // 1000) == "timestamp: must not be older than 30 days"


def test_timestamp_clock_skew() -> None:
    assert parse(timestamp=NOW_MS + 60_000)["timestamp"] == NOW_MS + 60_000
    assert (
        parse(timestamp=NOW_MS + limits.MAX_CLOCK_SKEW_MS)["timestamp"] == NOW_MS + limits.MAX_CLOCK_SKEW_MS
    )
    assert problem(timestamp=NOW_MS + limits.MAX_CLOCK_SKEW_MS + 1) == "timestamp: must not be in the future"
    assert problem(timestamp="2026-01-02T00:00:00Z") == "timestamp: must not be in the future"


@pytest.mark.parametrize(
    "value", ["yesterday", "2025-13-01T00:00:00Z", "1767225600000", "", True, Decimal("1767225600000.5"), [1]]
)
def test_timestamp_of_wrong_form(value: Any) -> None:
    assert problem(timestamp=value) == "timestamp: must be ISO-8601 or epoch milliseconds"


# --- values arriving from JSON text -----------------------------------------------------------------


def test_numeric_strings_and_json_numbers_from_a_real_body() -> None:
    payload = parse_json(
        '{"customerid": 12345, "amount": "19.99", "margin": 10.50, "quantity": "2", "sku": 230847}'
    )
    fields = parse_message(payload, now_ms=NOW_MS)
    assert fields == Conversion(
        {
            "customerid": "12345",
            "amount": Decimal("19.99"),
            "margin": Decimal("10.50"),
            "quantity": 2,
            "sku": "230847",
        }
    )


@given(
    email=st.from_regex(r"[a-z]{3,10}\.[a-z]{3,10}@example\.com", fullmatch=True),
    currency=st.from_regex(r"zq[a-z]{3,6}", fullmatch=True),
)
def test_error_text_never_contains_the_values(email: str, currency: str) -> None:
    # An email that is not quite one (the @ dropped) and a bad currency: both named, neither echoed.
    broken = email.replace("@", "")
    reason = problem(email=broken, currency=currency, firstname={"name": email})
    assert reason.startswith("email: ")
    assert "currency: " in reason and "firstname: " in reason
    assert broken not in reason
    assert currency not in reason
    assert email not in reason


def test_unknown_key_is_shown_short_and_printable() -> None:
    reason = problem(**{"x" * 200: 1})
    assert reason.endswith(": unknown field") and len(reason) < 100
    assert problem(**{"\ud800": 1}) == "…: unknown field"


@pytest.mark.parametrize("key", ["zqxj@example.com", "Jane Doe", "+1 555 0100", "x" * 65, "näme"])
def test_an_unknown_key_that_is_not_a_plain_identifier_is_withheld(key: str) -> None:
    reason = problem(email="a@b.com", **{key: 1})
    assert reason == "…: unknown field"


def test_a_reason_lists_ten_problems_then_counts_the_rest() -> None:
    reason = problem(**{f"k{n}": 1 for n in range(9000)})
    assert reason.startswith("k0: unknown field; k1: unknown field")
    assert reason.endswith("; and 8990 more")
    assert len(reason) <= 500
