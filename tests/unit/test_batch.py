"""batch.build: the exact Event API batch for flat conversions, full-batch pass-through, HASH_PII, size."""

import copy
import hashlib
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from literals import NOW_MS

from rokt_forwarder import batch, limits
from rokt_forwarder.envelope import parse_json
from rokt_forwarder.errors import RefusedError
from rokt_forwarder.message import FullBatch, parse_message

HASHED = "7f83b1657ff1fc53b92dc18148a1d65dfc2dc14b1fd9f5b2b1f6f5c2b7a1e6f0"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def build(
    payload: dict[str, Any] | str, *, environment: str = "development", hash_pii: bool = False
) -> bytes:
    if isinstance(payload, str):
        payload = parse_json(payload)
    assert isinstance(payload, dict)
    message = parse_message(payload, now_ms=NOW_MS)
    return batch.build(message, environment=environment, hash_pii=hash_pii, now_ms=NOW_MS)


def load(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


def without_ids(sent: dict[str, Any]) -> dict[str, Any]:
    """The batch without the ids batch.py derives (the tests of ids are below), which must be there."""
    sent = copy.deepcopy(sent)
    assert uuid.UUID(sent.pop("source_request_id")).version == 5
    for event in sent["events"]:
        assert uuid.UUID(event["data"].pop("source_message_id")).version == 5
    return sent


FULL_EXAMPLE = """{
  "email": "jane.doe@example.com",
  "other": "__HASHED__",
  "customerid": 12345,
  "rtid": "rtid-9f8e7d",
  "firstname": "Jane",
  "lastname": "Doe",
  "mobile": "+1 (323) 867-5309",
  "ipaddress": "203.0.113.9",
  "billingzipcode": "90210",
  "dateofbirth": "19900131",
  "gender": "f",
  "amount": 19.99,
  "currency": "USD",
  "quantity": 2,
  "conversiontype": "purchase",
  "productname": "Maroon 5 t-shirt",
  "sku": "230847",
  "paymenttype": "visa",
  "margin": 10.0,
  "transactionid": "ABC789",
  "confirmationref": "XYZ123",
  "environment": "production",
  "timestamp": "2025-12-31T12:00:00Z",
  "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
  "custom_attributes": {"coupon": "SAVE10", "firstorder": true},
  "user_attributes": {"loyaltytier": "gold", "interests": ["golf", "tennis"]}
}""".replace("__HASHED__", HASHED)


def test_full_flat_example_gives_the_exact_batch() -> None:
    assert without_ids(load(build(FULL_EXAMPLE))) == {
        "environment": "production",
        "user_identities": {
            "email": "jane.doe@example.com",
            "other": HASHED,
            "customerid": "12345",
            "other2": "rtid-9f8e7d",
        },
        "user_attributes": {
            "firstname": "Jane",
            "lastname": "Doe",
            "mobile": "+1 (323) 867-5309",
            "ipaddress": "203.0.113.9",
            "billingzipcode": "90210",
            "dateofbirth": "19900131",
            "gender": "f",
            "loyaltytier": "gold",
            "interests": ["golf", "tennis"],
        },
        "integration_attributes": {"1277": {"passbackconversiontrackingid": "rtid-9f8e7d"}},
        "device_info": {"http_header_user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"},
        "ip": "203.0.113.9",
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "conversion",
                    "custom_event_type": "transaction",
                    "timestamp_unixtime_ms": NOW_MS - 12 * 3_600_000,
                    "custom_attributes": {
                        "amount": Decimal("19.99"),
                        "currency": "USD",
                        "quantity": 2,
                        "conversiontype": "purchase",
                        "productname": "Maroon 5 t-shirt",
                        "sku": "230847",
                        "paymenttype": "visa",
                        "margin": Decimal("10.0"),
                        "transactionid": "ABC789",
                        "confirmationref": "XYZ123",
                        "coupon": "SAVE10",
                        "firstorder": True,
                    },
                },
            }
        ],
    }


def test_minimal_flat_conversion() -> None:
    assert without_ids(load(build({"email": "jane@example.com"}))) == {
        "environment": "development",
        "user_identities": {"email": "jane@example.com"},
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "conversion",
                    "custom_event_type": "transaction",
                    "custom_attributes": {},
                },
            }
        ],
    }


def test_output_is_compact_utf8_json() -> None:
    body = build({"email": "jane@example.com", "productname": "Café crème"})
    assert b"Caf\xc3\xa9 cr\xc3\xa8me" in body
    assert b": " not in body and b", " not in body


def test_rtid_alone_is_an_identity() -> None:
    sent = load(build({"rtid": "rtid-1"}))
    assert sent["user_identities"] == {"other2": "rtid-1"}
    assert sent["integration_attributes"] == {"1277": {"passbackconversiontrackingid": "rtid-1"}}


def test_no_optional_sections_without_their_fields() -> None:
    sent = load(build({"customerid": "c"}))
    for key in ("user_attributes", "ip", "device_info", "integration_attributes"):
        assert key not in sent
    assert "timestamp_unixtime_ms" not in sent["events"][0]["data"]
    assert "timestamp_unixtime_ms" not in sent


def test_ipaddress_is_a_user_attribute_and_the_batch_ip() -> None:
    sent = load(build({"customerid": "c", "ipaddress": "198.51.100.7"}))
    assert sent["ip"] == "198.51.100.7"
    assert sent["user_attributes"] == {"ipaddress": "198.51.100.7"}


def test_custom_and_user_attributes_are_merged() -> None:
    sent = load(
        build(
            {
                "customerid": "c",
                "firstname": "Jane",
                "amount": "5",
                "custom_attributes": {"campaign": "spring", "items": 3},
                "user_attributes": {"segment": "vip"},
            }
        )
    )
    assert sent["user_attributes"] == {"firstname": "Jane", "segment": "vip"}
    assert sent["events"][0]["data"]["custom_attributes"] == {"amount": 5, "campaign": "spring", "items": 3}


# --- ids --------------------------------------------------------------------------------------------


FLAT = {"email": "jane@example.com", "amount": "19.99", "currency": "usd", "customerid": "c-1"}


def request_id_of(body: str, *, environment: str = "development", hash_pii: bool = False) -> str:
    sent = load(batch.prepare(body, environment=environment, hash_pii=hash_pii, now_ms=NOW_MS))
    return str(sent["source_request_id"])


def sns(message: str) -> str:
    notification = {"Type": "Notification", "MessageId": str(uuid.uuid4()), "Message": message}
    return json.dumps({**notification, "TopicArn": "arn:aws:sns:us-east-1:1:t"})


def eventbridge(detail: dict[str, Any]) -> str:
    event = {"id": str(uuid.uuid4()), "detail-type": "conversion", "source": "shop", "detail": detail}
    return json.dumps(event)


@pytest.mark.parametrize(
    "same",
    [
        json.dumps(FLAT),
        json.dumps(dict(reversed(FLAT.items())), indent=2),
        json.dumps({**FLAT, "amount": 19.99, "currency": " USD "}),
        sns(json.dumps(FLAT)),
        eventbridge(FLAT),
        sns(eventbridge(FLAT)),
    ],
    ids=["as sent", "keys reordered, spaced", "normalised values", "SNS", "EventBridge", "SNS+EventBridge"],
)
def test_the_same_conversion_gets_the_same_ids_however_it_arrives(same: str) -> None:
    """No SQS message id goes in: a redriven or re-sent message (a new messageId) is the same batch."""
    assert request_id_of(same) == request_id_of(json.dumps(FLAT))
    assert request_id_of(same, hash_pii=True) == request_id_of(json.dumps(FLAT)), (
        "the conversion, not its form"
    )


@pytest.mark.parametrize(
    "other",
    [
        {**FLAT, "amount": "19.98"},
        {**FLAT, "customerid": "c-2"},
        {**FLAT, "confirmationref": "ORDER-2"},
        {**FLAT, "timestamp": NOW_MS - 1},
        {**FLAT, "custom_attributes": {"coupon": "SAVE10"}},
    ],
)
def test_a_conversion_that_differs_in_anything_gets_other_ids(other: dict[str, Any]) -> None:
    assert request_id_of(json.dumps(other)) != request_id_of(json.dumps(FLAT))


def test_the_same_conversion_in_another_environment_gets_other_ids() -> None:
    body = json.dumps(FLAT)
    assert request_id_of(body, environment="production") != request_id_of(body)


def test_ids_are_pinned_to_the_canonical_batch_and_the_namespace() -> None:
    # Changing either would make a message redriven after a deploy look new to the API's dedup.
    canonical = (
        '{"environment":"development","events":[{"data":{"custom_attributes":{},"custom_event_type":'
        '"transaction","event_name":"conversion"},"event_type":"custom_event"}],'
        '"user_identities":{"customerid":"c"}}'
    )
    namespace = uuid.UUID("5b7e0c52-4a39-4d7e-9a54-6f1c3a0d2b8e")
    sent = load(build({"customerid": "c"}))
    source_request_id = str(uuid.uuid5(namespace, canonical))
    assert sent["source_request_id"] == source_request_id
    assert sent["events"][0]["data"]["source_message_id"] == str(
        uuid.uuid5(namespace, f"{source_request_id}/0")
    )


# --- environment, timestamp -------------------------------------------------------------------------


def test_environment_default_and_override() -> None:
    assert load(build({"customerid": "c"}))["environment"] == "development"
    assert load(build({"customerid": "c"}, environment="production"))["environment"] == "production"
    assert (
        load(build({"customerid": "c", "environment": "development"}, environment="production"))[
            "environment"
        ]
        == "development"
    )
    assert load(build({"customerid": "c", "environment": "production"}))["environment"] == "production"


@pytest.mark.parametrize(
    "timestamp", ["2025-12-31T23:00:00Z", "2026-01-01T01:00:00+02:00", NOW_MS - 3_600_000]
)
def test_timestamp_becomes_timestamp_unixtime_ms(timestamp: Any) -> None:
    data = load(build({"customerid": "c", "timestamp": timestamp}))["events"][0]["data"]
    assert data["timestamp_unixtime_ms"] == NOW_MS - 3_600_000


# --- exact numbers ----------------------------------------------------------------------------------


def test_decimals_are_written_literally() -> None:
    body = build('{"customerid": "c", "amount": 19.99, "margin": 12345678901234567.89}')
    assert b'"amount":19.99' in body
    assert b'"margin":12345678901234567.89' in body
    data = load(body)["events"][0]["data"]["custom_attributes"]
    assert data["amount"] == Decimal("19.99")
    assert data["margin"] == Decimal("12345678901234567.89")


def test_numeric_string_amount_is_sent_as_a_number() -> None:
    body = build({"customerid": "c", "amount": "19.99"})
    assert b'"amount":19.99' in body


@pytest.mark.parametrize("amount", ["0", 0, "0.00"])
def test_amount_zero_is_kept(amount: Any) -> None:
    payload = f'{{"customerid": "c", "amount": {amount}}}' if isinstance(amount, int) else None
    body = build(payload or {"customerid": "c", "amount": amount})
    sent = load(body)["events"][0]["data"]["custom_attributes"]
    assert "amount" in sent
    assert sent["amount"] == 0


def test_trailing_zeros_survive() -> None:
    assert b'"amount":100.00' in build('{"customerid": "c", "amount": 100.00}')


# --- full batch pass-through ------------------------------------------------------------------------


def full_batch() -> dict[str, Any]:
    return {
        "user_identities": {"email": "jane@example.com", "vendor_id": "v-1"},
        "device_info": {"platform": "web", "custom_device_field": 7},
        "schema_version": 2,
        "mystery": {"nested": [1, {"deep": Decimal("1.50")}]},
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "conversion",
                    "custom_attributes": {"amount": Decimal("49.99")},
                    "extra_data_field": "kept",
                },
                "event_extra": True,
            },
            {"event_type": "screen_view", "data": {"screen_name": "checkout"}},
            {"event_type": "custom_event", "data": {"event_name": "signup", "custom_event_type": "other"}},
        ],
    }


def build_full(
    payload: dict[str, Any], *, environment: str = "development", hash_pii: bool = False
) -> dict[str, Any]:
    sent: dict[str, Any] = load(
        batch.build(FullBatch(payload), environment=environment, hash_pii=hash_pii, now_ms=NOW_MS)
    )
    return sent


def test_full_batch_passes_through_filling_only_defaults() -> None:
    sent = build_full(full_batch())
    source_request_id = sent["source_request_id"]
    assert sent == {
        **full_batch(),
        "environment": "development",
        "source_request_id": source_request_id,
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "conversion",
                    "custom_attributes": {"amount": Decimal("49.99")},
                    "extra_data_field": "kept",
                    "custom_event_type": "transaction",
                    "source_message_id": batch.source_id(f"{source_request_id}/0"),
                },
                "event_extra": True,
            },
            {
                "event_type": "screen_view",
                "data": {
                    "screen_name": "checkout",
                    "source_message_id": batch.source_id(f"{source_request_id}/1"),
                },
            },
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "signup",
                    "custom_event_type": "other",
                    "source_message_id": batch.source_id(f"{source_request_id}/2"),
                },
            },
        ],
    }


def test_a_full_batch_s_ids_come_from_its_content() -> None:
    source_request_id = build_full(full_batch())["source_request_id"]
    assert build_full(dict(reversed(full_batch().items())))["source_request_id"] == source_request_id
    assert build_full({**full_batch(), "ip": "198.51.100.7"})["source_request_id"] != source_request_id


def test_full_batch_keeps_what_the_producer_set() -> None:
    payload = full_batch()
    payload["environment"] = "production"
    payload["source_request_id"] = "producer-request-1"
    payload["events"][0]["data"]["source_message_id"] = "producer-message-1"
    payload["events"][0]["data"]["custom_event_type"] = "navigation"
    sent = build_full(payload, environment="development")
    assert sent["environment"] == "production"
    assert sent["source_request_id"] == "producer-request-1"
    assert sent["events"][0]["data"]["source_message_id"] == "producer-message-1"
    assert sent["events"][0]["data"]["custom_event_type"] == "navigation"


def test_full_batch_environment_default_from_settings() -> None:
    assert build_full(full_batch(), environment="production")["environment"] == "production"


def test_full_batch_input_is_not_modified() -> None:
    payload = full_batch()
    before = copy.deepcopy(payload)
    build_full(payload)
    build_full(payload, hash_pii=True)
    assert payload == before


def test_full_batch_decimals_stay_exact() -> None:
    body = batch.build(FullBatch(full_batch()), environment="development", hash_pii=False, now_ms=NOW_MS)
    assert b'"amount":49.99' in body
    assert b'"deep":1.50' in body


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"events": []}, "events: must be a non-empty list"),
        ({"user_identities": {}}, "user_identities: needs at least one of email, other, customerid, other2"),
        ({"environment": "staging"}, "environment: must be development or production"),
    ],
)
def test_full_batch_breaking_a_rule_is_a_message_error(change: dict[str, Any], expected: str) -> None:
    payload = {**full_batch(), **change}
    with pytest.raises(RefusedError, match=expected.replace("(", r"\(")):
        build_full(payload)


def test_flat_conversion_breaking_a_batch_rule_is_a_message_error() -> None:
    with pytest.raises(RefusedError) as error:
        build({"firstname": "Jane", "custom_attributes": {"basket": {"sku": "1"}}})
    assert error.value.reason == (
        "user_identities: needs at least one of email, other, customerid, other2 (rtid); "
        "events[0].data.custom_attributes.basket: value must be a string, number, boolean or null"
    )
    assert "Jane" not in error.value.reason


def test_too_many_flat_attributes_is_a_message_error() -> None:
    with pytest.raises(RefusedError, match="user_attributes: must have at most 100 attributes"):
        build({"customerid": "c", "user_attributes": {f"a{i}": i for i in range(101)}})
    with pytest.raises(RefusedError, match="custom_attributes: must have at most 100 attributes"):
        build({"customerid": "c", "amount": 1, "custom_attributes": {f"a{i}": i for i in range(100)}})


# --- HASH_PII ---------------------------------------------------------------------------------------


def test_hash_pii_replaces_raw_values_by_hashes() -> None:
    payload = {
        "email": "  Jane.Zyxwv@Example.COM ",
        "customerid": "C-1",
        "firstname": " Janeqq ",
        "lastname": "Doeqq",
        "mobile": "+1 (323) 867-5309",
        "billingzipcode": "SW1A 1AA",
        "ipaddress": "203.0.113.9",
        "gender": "f",
    }
    body = build(payload, hash_pii=True)
    for raw in (
        "Zyxwv",
        "zyxwv",
        "Janeqq",
        "janeqq",
        "Doeqq",
        "doeqq",
        "867-5309",
        "3238675309",
        "SW1A",
        "sw1a",
    ):
        assert raw.encode() not in body
    sent = load(body)
    assert sent["user_identities"] == {"other": sha("jane.zyxwv@example.com"), "customerid": "C-1"}
    assert sent["user_attributes"] == {
        "firstnamesha256": sha("janeqq"),
        "lastnamesha256": sha("doeqq"),
        "mobilesha256": sha("+13238675309"),
        "billingzipsha256": sha("sw1a 1aa"),
        "ipaddress": "203.0.113.9",
        "gender": "f",
    }


def test_hash_pii_keeps_a_given_other_and_drops_the_email() -> None:
    sent = load(build({"email": "jane@example.com", "other": HASHED}, hash_pii=True))
    assert sent["user_identities"] == {"other": HASHED}


def test_flat_user_attributes_may_not_shadow_a_named_field() -> None:
    with pytest.raises(RefusedError) as error:
        build({"customerid": "c", "user_attributes": {"firstname": "Qwertz"}}, hash_pii=True)
    assert error.value.reason == "user_attributes.firstname: use the top-level field"


def test_hash_pii_on_a_full_batch() -> None:
    payload = full_batch()
    payload["user_attributes"] = {"lastname": "Doeqq", "mobile": "305.321.1654"}
    body = batch.build(FullBatch(payload), environment="development", hash_pii=True, now_ms=NOW_MS)
    assert b"jane@example.com" not in body
    assert b"Doeqq" not in body
    sent = load(body)
    assert sent["user_identities"] == {"vendor_id": "v-1", "other": sha("jane@example.com")}
    assert sent["user_attributes"] == {"lastnamesha256": sha("doeqq"), "mobilesha256": sha("3053211654")}


def test_without_hash_pii_values_are_sent_raw() -> None:
    body = build({"email": "jane@example.com", "firstname": "Jane"})
    assert b"jane@example.com" in body and b'"firstname":"Jane"' in body


def test_hash_pii_does_not_hide_a_malformed_email_in_a_full_batch() -> None:
    payload = full_batch()
    payload["user_identities"] = {"email": "not-an-email", "customerid": "c"}
    with pytest.raises(RefusedError, match=r"user_identities\.email: must be an email address"):
        build_full(payload, hash_pii=True)


def test_hash_pii_never_sends_a_numeric_zip_raw() -> None:
    payload = full_batch()
    payload["user_attributes"] = {"billingzipcode": 90210}
    body = batch.build(FullBatch(payload), environment="development", hash_pii=True, now_ms=NOW_MS)
    assert b"90210" not in body
    assert load(body)["user_attributes"] == {"billingzipsha256": sha("90210")}


def test_lone_surrogate_is_a_message_error() -> None:
    with pytest.raises(RefusedError):
        build('{"customerid": "c", "productname": "Gift \\ud83d"}')


# --- size -------------------------------------------------------------------------------------------


def test_oversize_batch_is_a_message_error() -> None:
    custom = {f"note{i}": "x" * 4000 for i in range(40)}  # 160 000 bytes of values: each value is legal
    with pytest.raises(RefusedError) as error:
        build({"customerid": "c", "custom_attributes": custom})
    assert error.value.reason.startswith("batch: ")
    assert f"over the {limits.MAX_BATCH_BYTES}-byte batch limit" in error.value.reason
    assert "xxxx" not in error.value.reason


def test_batch_just_under_the_limit_is_accepted() -> None:
    custom = {f"note{i}": "x" * 4000 for i in range(30)}
    body = build({"customerid": "c", "custom_attributes": custom})
    assert 120_000 < len(body) <= limits.MAX_BATCH_BYTES


def test_batch_size_boundary_is_inclusive() -> None:
    base = len(build({"customerid": "c", "custom_attributes": {"pad": ""}}))
    filler = limits.MAX_BATCH_BYTES - base
    custom = {f"p{i}": "x" * 4000 for i in range(filler // 4000)}
    body = build({"customerid": "c", "custom_attributes": custom})
    # Grow one value until the body is exactly at the limit, then one byte over.
    exact = {**custom, "pad": "x" * (limits.MAX_BATCH_BYTES - len(body) - len(b',"pad":""'))}
    assert len(build({"customerid": "c", "custom_attributes": exact})) == limits.MAX_BATCH_BYTES
    over = {**custom, "pad": exact["pad"] + "x"}
    with pytest.raises(RefusedError, match="batch limit"):
        build({"customerid": "c", "custom_attributes": over})


@pytest.mark.parametrize("hash_pii", [False, True])
@pytest.mark.parametrize("depth", [1_500, 5_000])
def test_deeply_nested_pass_through_is_a_message_error(hash_pii: bool, depth: int) -> None:
    payload = full_batch()
    nested: list = []
    for _ in range(depth):
        nested = [nested]
    payload["device_info"] = {"extra": nested, "more": {"k": {"k": {"k": nested}}}}
    with pytest.raises(RefusedError, match=r"^batch: nested too deeply$"):
        batch.build(FullBatch(payload), environment="development", hash_pii=hash_pii, now_ms=NOW_MS)


# --- HASH_PII leaves nothing raw (hardening) --------------------------------------------------------


def test_hash_pii_covers_identity_types_and_reserved_attributes_of_a_full_batch() -> None:
    payload = full_batch()
    payload["user_identities"] = {
        "email": "Jane@Example.com",
        "mobile_number": "+1 (323) 867-5309",
        "vendor_id": "v",
    }
    payload["user_attributes"] = {
        "$FirstName": "Qfirst",
        "$LastName": "Qlast",
        "$Mobile": "305.321.1654",
        "$Zip": "90210",
        "$Address": "12 Qelm St",
        "$Gender": "f",
    }
    body = batch.build(FullBatch(payload), environment="development", hash_pii=True, now_ms=NOW_MS)
    for raw in (
        "Jane",
        "jane",
        "867-5309",
        "3238675309",
        "Qfirst",
        "qfirst",
        "Qlast",
        "3211654",
        "90210",
        "Qelm",
    ):
        assert raw.encode() not in body, raw
    sent = load(body)
    assert sent["user_identities"] == {
        "other": sha("jane@example.com"),
        "mobile_number": sha("+13238675309"),
        "vendor_id": "v",
    }
    assert sent["user_attributes"] == {
        "firstnamesha256": sha("qfirst"),
        "lastnamesha256": sha("qlast"),
        "mobilesha256": sha("3053211654"),
        "billingzipsha256": sha("90210"),
        "$Address": sha("12 qelm st"),
        "$Gender": "f",
    }


def test_hash_pii_covers_other_spellings_and_emails_anywhere_in_a_flat_message() -> None:
    payload = {
        "customerid": "c",
        "user_attributes": {
            "Email": "Zq.Person@example.com",
            "phone": "555 0100",
            "Zip_Code": "10001",
            "tier": "gold",
        },
        "custom_attributes": {"contact": "zq.other@example.com", "campaign": "spring"},
    }
    body = build(payload, hash_pii=True)
    for raw in ("zq.person", "Zq.Person", "zq.other", "555 0100", "5550100", "10001"):
        assert raw.encode() not in body, raw
    sent = load(body)
    assert sent["user_identities"] == {"customerid": "c", "other": sha("zq.person@example.com")}
    assert sent["user_attributes"] == {
        "mobilesha256": sha("5550100"),
        "billingzipsha256": sha("10001"),
        "tier": "gold",
    }
    attributes = sent["events"][0]["data"]["custom_attributes"]
    assert attributes["contact"] == sha("zq.other@example.com") and attributes["campaign"] == "spring"


def test_hash_pii_refuses_a_lone_surrogate_with_a_reason_instead_of_crashing() -> None:
    with pytest.raises(RefusedError, match="lone surrogate"):
        build({"customerid": "c", "firstname": "Ja\ud800ne"}, hash_pii=True)
