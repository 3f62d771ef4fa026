"""envelope.unwrap: flat body, EventBridge, SNS, SNS carrying EventBridge, and every way a body is bad."""

import json
from decimal import Decimal
from typing import Any

import pytest

from rokt_forwarder.envelope import open_envelopes, parse_json, unwrap
from rokt_forwarder.errors import RefusedError

FLAT = {"email": "jane@example.com", "amount": 19.99, "currency": "USD"}


def eventbridge(detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Conversion",
        "source": "com.example.shop",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def sns(message: Any) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:conversions",
        "Message": message,
        "Timestamp": "2026-01-01T00:00:00.000Z",
    }


def test_flat_body() -> None:
    payload, source = unwrap(json.dumps(FLAT))
    assert source == "sqs"
    assert payload == {"email": "jane@example.com", "amount": Decimal("19.99"), "currency": "USD"}


def test_eventbridge_detail_is_the_message() -> None:
    payload, source = unwrap(json.dumps(eventbridge(FLAT)))
    assert source == "eventbridge"
    assert payload == {"email": "jane@example.com", "amount": Decimal("19.99"), "currency": "USD"}


def test_sns_message_is_the_message() -> None:
    payload, source = unwrap(json.dumps(sns(json.dumps(FLAT))))
    assert source == "sns"
    assert payload == {"email": "jane@example.com", "amount": Decimal("19.99"), "currency": "USD"}


def test_sns_carrying_eventbridge() -> None:
    payload, source = unwrap(json.dumps(sns(json.dumps(eventbridge(FLAT)))))
    assert source == "sns+eventbridge"
    assert payload == {"email": "jane@example.com", "amount": Decimal("19.99"), "currency": "USD"}


def test_full_batch_in_eventbridge_passes_through() -> None:
    full = {"user_identities": {"email": "jane@example.com"}, "events": [{"event_type": "custom_event"}]}
    payload, source = unwrap(json.dumps(eventbridge(full)))
    assert (payload, source) == (full, "eventbridge")


def test_eventbridge_with_a_non_object_detail_is_not_unwrapped() -> None:
    event = eventbridge("not an object")
    payload, source = unwrap(json.dumps(event))
    assert (payload, source) == (event, "sqs")


def test_notification_without_topic_arn_is_not_sns() -> None:
    body = {"Type": "Notification", "Message": json.dumps(FLAT)}
    assert unwrap(json.dumps(body)) == (body, "sqs")


@pytest.mark.parametrize("body", ["", "{", "{'email': 'x'}", '{"email": "jane@example.com",}', "nope"])
def test_invalid_json(body: str) -> None:
    with pytest.raises(RefusedError) as error:
        unwrap(body)
    assert error.value.reason == "body: not valid JSON"
    assert str(error.value) == error.value.reason


def test_invalid_json_error_does_not_echo_the_body() -> None:
    with pytest.raises(RefusedError) as error:
        unwrap('{"email": "jane.secret@example.com"')
    assert "jane.secret" not in error.value.reason


@pytest.mark.parametrize("body", ["[1, 2]", "42", '"text"', "null", "true", "[]"])
def test_non_object_body(body: str) -> None:
    with pytest.raises(RefusedError, match=r"^body: must be a JSON object$"):
        unwrap(body)


def test_deeply_nested_body_is_a_message_error() -> None:
    with pytest.raises(RefusedError, match="not valid JSON"):
        unwrap("[" * 100_000)


@pytest.mark.parametrize("message", [{"email": "jane@example.com"}, None, 42, ["x"]])
def test_sns_with_a_non_string_message(message: Any) -> None:
    with pytest.raises(RefusedError, match=r"^SNS notification: Message must be a string$"):
        unwrap(json.dumps(sns(message)))


def test_sns_without_message() -> None:
    body = sns("x")
    del body["Message"]
    with pytest.raises(RefusedError, match="Message must be a string"):
        unwrap(json.dumps(body))


def test_sns_message_that_is_not_json() -> None:
    with pytest.raises(RefusedError, match=r"^SNS notification: Message is not valid JSON$"):
        unwrap(json.dumps(sns("email=jane@example.com")))


def test_sns_message_that_is_not_an_object() -> None:
    with pytest.raises(RefusedError, match=r"^body: must be a JSON object$"):
        unwrap(json.dumps(sns("[1, 2, 3]")))


def test_deeply_nested_sns_message_is_a_message_error() -> None:
    with pytest.raises(RefusedError):
        unwrap(json.dumps(sns("[" * 100_000)))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(constant: str) -> None:
    with pytest.raises(RefusedError, match=rf"^body: {constant} is not valid JSON$"):
        unwrap(f'{{"email": "jane@example.com", "amount": {constant}}}')


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_inside_an_sns_message_are_refused(constant: str) -> None:
    body = json.dumps(sns(f'{{"email": "jane@example.com", "amount": {constant}}}'))
    with pytest.raises(RefusedError):
        unwrap(body)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19.99", Decimal("19.99")),
        ("0.1", Decimal("0.1")),
        ("100.00", Decimal("100.00")),
        ("12345678901234567.89", Decimal("12345678901234567.89")),
        ("1e3", Decimal("1E+3")),
        ("-0.5", Decimal("-0.5")),
    ],
)
def test_decimals_are_parsed_exactly(text: str, expected: Decimal) -> None:
    payload, _ = unwrap(f'{{"amount": {text}}}')
    value = payload["amount"]
    assert isinstance(value, Decimal)
    assert value == expected
    assert str(value) == str(expected)


def test_integers_stay_integers() -> None:
    payload, _ = unwrap('{"quantity": 3, "big": 123456789012345678901234567890}')
    assert payload == {"quantity": 3, "big": 123456789012345678901234567890}
    assert type(payload["quantity"]) is int


def test_decimals_inside_an_sns_message_are_exact() -> None:
    payload, _ = unwrap(json.dumps(sns('{"amount": 12345678901234567.89}')))
    assert payload["amount"] == Decimal("12345678901234567.89")


def test_parse_json_uses_decimal_and_refuses_constants() -> None:
    assert parse_json('{"a": [1.10, 2]}') == {"a": [Decimal("1.10"), 2]}
    with pytest.raises(RefusedError):
        parse_json("NaN")


def test_message_error_keeps_its_reason() -> None:
    error = RefusedError("email: must be an email address")
    assert isinstance(error, ValueError)
    assert error.reason == "email: must be an email address"


def test_open_envelopes_keeps_the_eventbridge_event_for_a_producers_mapping() -> None:
    event = eventbridge(FLAT)
    opened = open_envelopes(json.dumps(sns(json.dumps(event))))
    assert opened.document["source"] == "com.example.shop"
    assert opened.document["detail"] == opened.message
    assert opened.source == "sns+eventbridge"
    plain = open_envelopes(json.dumps(FLAT))
    assert plain.document == plain.message
