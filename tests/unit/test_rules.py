"""rules: the single-value rules and check_batch for whole Event API batches."""

import copy
from decimal import Decimal
from typing import Any

import pytest
from literals import NOW_MS

from rokt_forwarder import limits, rules
from rokt_forwarder.rules import Violation, check_batch


def valid_batch() -> dict[str, Any]:
    return {
        "environment": "production",
        "source_request_id": "0d8f3c1e-6a9b-4a4e-9b52-1f2c3d4e5f60",
        "user_identities": {"email": "jane@example.com"},
        "user_attributes": {"firstname": "Jane", "interests": ["golf", "tennis"]},
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "conversion",
                    "custom_event_type": "transaction",
                    "timestamp_unixtime_ms": NOW_MS - 1000,
                    "custom_attributes": {"amount": Decimal("19.99"), "currency": "USD", "gift": False},
                },
            }
        ],
    }


def violations(**changes: Any) -> list[str]:
    batch = valid_batch()
    batch.update(changes)
    return [str(v) for v in check_batch(batch, now_ms=NOW_MS)]


def event_violations(**data_changes: Any) -> list[str]:
    batch = valid_batch()
    batch["events"][0]["data"].update(data_changes)
    return [str(v) for v in check_batch(batch, now_ms=NOW_MS)]


def test_valid_batch_has_no_violations() -> None:
    assert check_batch(valid_batch(), now_ms=NOW_MS) == []


def test_minimal_batch_has_no_violations() -> None:
    batch = {"user_identities": {"customerid": "c"}, "events": [{"event_type": "screen_view", "data": {}}]}
    assert check_batch(batch, now_ms=NOW_MS) == []


def test_check_batch_does_not_modify_the_batch() -> None:
    batch = valid_batch()
    before = copy.deepcopy(batch)
    check_batch(batch, now_ms=NOW_MS)
    assert batch == before


@pytest.mark.parametrize("batch", [[], "batch", None, 1])
def test_batch_must_be_an_object(batch: Any) -> None:
    assert check_batch(batch, now_ms=NOW_MS) == [Violation("", "batch must be a JSON object")]


def test_violation_text() -> None:
    assert str(Violation("events", "must be a non-empty list")) == "events: must be a non-empty list"
    assert str(Violation("", "batch must be a JSON object")) == "batch must be a JSON object"


# --- identities -------------------------------------------------------------------------------------

NO_IDENTITY = "user_identities: needs at least one of email, other, customerid, other2 (rtid)"


@pytest.mark.parametrize(
    "identities",
    [
        {"email": "jane@example.com"},
        {"other": "b" * 64},
        {"customerid": "C-1"},
        {"other2": "rtid-123"},
        {"customerid": "", "other2": "rtid-123"},
    ],
)
def test_any_one_identity_is_enough(identities: dict[str, Any]) -> None:
    assert violations(user_identities=identities) == []


@pytest.mark.parametrize(
    "identities",
    [
        None,
        {},
        {"customerid": ""},
        {"customerid": None},
        {"other3": "x", "mobile_number": "+15555550100"},
    ],
)
def test_at_least_one_identity_is_required(identities: Any) -> None:
    batch = valid_batch()
    if identities is None:
        del batch["user_identities"]
    else:
        batch["user_identities"] = identities
    assert [str(v) for v in check_batch(batch, now_ms=NOW_MS)] == [NO_IDENTITY]


def test_user_identities_must_be_an_object() -> None:
    assert violations(user_identities=["jane@example.com"]) == ["user_identities: must be an object"]


def test_identity_values_must_be_strings() -> None:
    assert violations(user_identities={"customerid": 12345, "email": "jane@example.com"}) == [
        "user_identities.customerid: must be a string"
    ]
    assert violations(user_identities={"customerid": 12345}) == [
        "user_identities.customerid: must be a string",
        NO_IDENTITY,
    ]


@pytest.mark.parametrize("email", ["jane.secret", "jane.secret@example", "jane secret@example.com"])
def test_email_must_look_like_one_and_is_not_echoed(email: str) -> None:
    found = violations(user_identities={"email": email, "customerid": "c"})
    assert found == ["user_identities.email: must be an email address"]
    assert "jane" not in found[0]


@pytest.mark.parametrize("other", ["a" * 63, "z" * 64, "jane.secret@example.com"])
def test_other_must_be_sha256_hex(other: str) -> None:
    found = violations(user_identities={"other": other, "customerid": "c"})
    assert found == ["user_identities.other: must be a SHA-256 hex digest (64 hex characters)"]
    assert other not in found[0]


# --- environment, source_request_id -----------------------------------------------------------------


def test_environment() -> None:
    assert violations(environment="development") == []
    assert violations(environment="staging") == ["environment: must be development or production"]
    assert violations(environment=None) == ["environment: must be development or production"]
    batch = valid_batch()
    del batch["environment"]
    assert check_batch(batch, now_ms=NOW_MS) == []


def test_unhashable_environment_is_a_violation() -> None:
    assert violations(environment={"name": "production"}) == [
        "environment: must be development or production"
    ]


def test_source_request_id_must_be_a_string() -> None:
    assert violations(source_request_id=42) == ["source_request_id: must be a string"]


# --- events -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("events", [None, [], {}, "conversion"])
def test_events_must_be_a_non_empty_list(events: Any) -> None:
    assert violations(events=events) == ["events: must be a non-empty list"]


def test_events_missing() -> None:
    batch = valid_batch()
    del batch["events"]
    assert [str(v) for v in check_batch(batch, now_ms=NOW_MS)] == ["events: must be a non-empty list"]


def test_event_must_be_an_object_with_data() -> None:
    assert violations(events=["conversion"]) == ["events[0]: must be an object"]
    assert violations(events=[{"event_type": "custom_event"}]) == ["events[0].data: must be an object"]
    assert violations(events=[{"data": {}}]) == ["events[0].event_type: must be a string"]


def test_events_are_checked_by_index() -> None:
    good = valid_batch()["events"][0]
    assert violations(events=[good, good, {"event_type": "custom_event", "data": {"event_name": "x"}}]) == [
        "events[2].data.custom_event_type: must be a string"
    ]


def test_event_name_length() -> None:
    assert event_violations(event_name="x" * 256) == []
    too_long = ["events[0].data.event_name: event name must be 1 to 256 characters"]
    assert event_violations(event_name="x" * 257) == too_long
    assert event_violations(event_name="") == too_long
    assert event_violations(event_name=5) == too_long


def test_event_name_missing() -> None:
    batch = valid_batch()
    del batch["events"][0]["data"]["event_name"]
    assert [str(v) for v in check_batch(batch, now_ms=NOW_MS)] == [
        "events[0].data.event_name: event name must be 1 to 256 characters"
    ]


def test_custom_event_type_is_required_for_custom_events() -> None:
    batch = valid_batch()
    del batch["events"][0]["data"]["custom_event_type"]
    assert [str(v) for v in check_batch(batch, now_ms=NOW_MS)] == [
        "events[0].data.custom_event_type: must be a string"
    ]


def test_event_timestamp() -> None:
    assert event_violations(timestamp_unixtime_ms=NOW_MS) == []
    assert event_violations(timestamp_unixtime_ms=None) == []
    assert event_violations(timestamp_unixtime_ms="1767225600000") == [
        "events[0].data.timestamp_unixtime_ms: must be an integer (epoch milliseconds)"
    ]
    assert event_violations(timestamp_unixtime_ms=True) == [
        "events[0].data.timestamp_unixtime_ms: must be an integer (epoch milliseconds)"
    ]
    assert event_violations(timestamp_unixtime_ms=NOW_MS - limits.MAX_EVENT_AGE_MS - 1) == [
        "events[0].data.timestamp_unixtime_ms: must not be older than 30 days"
    ]
    assert event_violations(timestamp_unixtime_ms=NOW_MS + limits.MAX_CLOCK_SKEW_MS + 1) == [
        "events[0].data.timestamp_unixtime_ms: must not be in the future"
    ]


# --- attribute names, values, counts ----------------------------------------------------------------


def test_user_attribute_name_length() -> None:
    assert violations(user_attributes={"n" * 256: "v"}) == []
    assert violations(user_attributes={"n" * 257: "v"}) == [
        "user_attributes: attribute name must be 1 to 256 characters"
    ]
    assert violations(user_attributes={"": "v"}) == [
        "user_attributes: attribute name must be 1 to 256 characters"
    ]


def test_custom_attribute_name_length() -> None:
    assert event_violations(custom_attributes={"n" * 256: "v"}) == []
    assert event_violations(custom_attributes={"n" * 257: "v"}) == [
        "events[0].data.custom_attributes: attribute name must be 1 to 256 characters"
    ]


def test_user_attribute_value_length_and_not_echoed() -> None:
    assert violations(user_attributes={"bio": "v" * 4096}) == []
    found = violations(user_attributes={"bio": "v" * 4097})
    assert found == ["user_attributes.bio: value must be at most 4096 characters"]
    assert "vvvv" not in found[0]


def test_custom_attribute_value_length() -> None:
    assert event_violations(custom_attributes={"note": "v" * 4096}) == []
    assert event_violations(custom_attributes={"note": "v" * 4097}) == [
        "events[0].data.custom_attributes.note: value must be at most 4096 characters"
    ]


def test_user_attribute_count() -> None:
    assert violations(user_attributes={f"a{i}": i for i in range(100)}) == []
    assert violations(user_attributes={f"a{i}": i for i in range(101)}) == [
        "user_attributes: must have at most 100 attributes"
    ]


def test_custom_attribute_count() -> None:
    assert event_violations(custom_attributes={f"a{i}": i for i in range(100)}) == []
    assert event_violations(custom_attributes={f"a{i}": i for i in range(101)}) == [
        "events[0].data.custom_attributes: must have at most 100 attributes"
    ]


@pytest.mark.parametrize(
    "value", ["s", "", 0, -1, Decimal("19.99"), 1.5, True, False, None, "x" * limits.MAX_VALUE_LENGTH]
)
def test_scalar_custom_attribute_values_are_accepted(value: Any) -> None:
    assert event_violations(custom_attributes={"k": value}) == []


@pytest.mark.parametrize("value", [{"nested": "jane@example.com"}, ["jane@example.com"], []])
def test_non_scalar_custom_attribute_value_is_refused_without_echo(value: Any) -> None:
    found = event_violations(custom_attributes={"k": value})
    assert found == ["events[0].data.custom_attributes.k: value must be a string, number, boolean or null"]
    assert "jane" not in found[0]


def test_user_attribute_lists_of_scalars_are_accepted_but_not_nested_values() -> None:
    assert violations(user_attributes={"interests": ["golf", 1, None]}) == []
    assert violations(user_attributes={"interests": ["golf", {"x": 1}]}) == [
        "user_attributes.interests: value must be a string, number, boolean or null"
    ]
    assert violations(user_attributes={"address": {"zip": "90210"}}) == [
        "user_attributes.address: value must be a string, number, boolean or null"
    ]
    assert violations(user_attributes={"interests": ["x" * 4097]}) == [
        "user_attributes.interests: value must be at most 4096 characters"
    ]


@pytest.mark.parametrize("attributes", [["a"], "a=b", 1])
def test_attribute_maps_must_be_objects(attributes: Any) -> None:
    assert violations(user_attributes=attributes) == ["user_attributes: must be an object"]
    assert event_violations(custom_attributes=attributes) == [
        "events[0].data.custom_attributes: must be an object"
    ]


def test_several_violations_are_all_reported() -> None:
    batch = valid_batch()
    batch["environment"] = "staging"
    batch["user_identities"] = {"email": "jane.secret"}
    batch["events"][0]["data"]["event_name"] = "x" * 257
    batch["events"][0]["data"]["custom_attributes"] = {"k": {"v": 1}}
    found = [str(v) for v in check_batch(batch, now_ms=NOW_MS)]
    assert found == [
        "environment: must be development or production",
        "user_identities.email: must be an email address",
        "events[0].data.event_name: event name must be 1 to 256 characters",
        "events[0].data.custom_attributes.k: value must be a string, number, boolean or null",
    ]
    assert all("jane.secret" not in text for text in found)


# --- the single-value rules -------------------------------------------------------------------------


def test_email_rule() -> None:
    assert rules.email_rule("a@b.co") is None
    assert rules.email_rule(" a@b.co ") is None
    assert rules.email_rule("a@b") == "must be an email address"
    assert rules.email_rule(None) == "must be an email address"


def test_sha256_rule() -> None:
    assert rules.sha256_rule("0" * 64) is None
    assert rules.sha256_rule("F" * 64) is None
    assert rules.sha256_rule("0" * 64 + "0") is not None
    assert rules.sha256_rule(1) is not None


def test_currency_rule() -> None:
    assert rules.currency_rule("USD") is None
    assert rules.currency_rule("usd") is None
    assert rules.currency_rule("US") == "must be a 3-letter currency code"
    assert rules.currency_rule("USDD") == "must be a 3-letter currency code"


def test_environment_rule() -> None:
    assert rules.environment_rule("development") is None
    assert rules.environment_rule("production") is None
    assert rules.environment_rule("Production") == "must be development or production"


def test_timestamp_rule_boundaries() -> None:
    assert rules.timestamp_rule(NOW_MS, NOW_MS) is None
    assert rules.timestamp_rule(NOW_MS + limits.MAX_CLOCK_SKEW_MS, NOW_MS) is None
    assert rules.timestamp_rule(NOW_MS + limits.MAX_CLOCK_SKEW_MS + 1, NOW_MS) == "must not be in the future"
    assert rules.timestamp_rule(NOW_MS - limits.MAX_EVENT_AGE_MS, NOW_MS) is None
    assert (
        rules.timestamp_rule(NOW_MS - limits.MAX_EVENT_AGE_MS - 1, NOW_MS) == "must not be older than 30 days"
    )
    assert limits.MAX_EVENT_AGE_MS == 30 * 24 * 3600 * 1000


def test_name_and_scalar_rules() -> None:
    assert rules.name_rule("n" * 256) is None
    assert rules.name_rule("n" * 257) == "name must be 1 to 256 characters"
    assert rules.name_rule("") == "name must be 1 to 256 characters"
    assert rules.scalar_rule("v" * 4096) is None
    assert rules.scalar_rule("v" * 4097) == "value must be at most 4096 characters"
    assert rules.scalar_rule({"a": 1}) == "value must be a string, number, boolean or null"
