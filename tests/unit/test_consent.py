"""consent_state: passed through from a flat conversion, checked as mParticle's JSON schema says, in
flat conversions and full batches alike; and the data plan's context.data_plan."""

import json
from decimal import Decimal
from typing import Any

import pytest
from literals import NOW_MS

from rokt_forwarder import batch
from rokt_forwarder.errors import RefusedError

MID = "6f1c1a0e-7c55-4d0f-a9d3-0e7b2f4b9c11"
# The consent management guide's example (https://docs.mparticle.com/guides/consent-management/).
CONSENT = {
    "gdpr": {
        "location_collection": {
            "document": "location_collection_agreement_v4",
            "consented": True,
            "timestamp_unixtime_ms": 1523039002083,
            "location": "17 Cherry Tree Lane",
            "hardware_id": "IDFA:a5d934n0-232f-4afc-2e9a-3832d95zc702",
        },
        "parental": {"consented": False, "timestamp_unixtime_ms": 1523039002083},
    },
    "ccpa": {
        "data_sale_opt_out": {
            "document": "ccpa_policy_v2",
            "consented": True,
            "timestamp_unixtime_ms": 1523039002083,
            "location": "https://example.com/privacy",
        }
    },
}
FLAT = {"email": "jane@example.com", "amount": "19.99", "currency": "USD"}


def prepare(body: dict[str, Any], **options: Any) -> Any:
    result = batch.prepare(
        json.dumps(body),
        environment="development",
        hash_pii=options.pop("hash_pii", False),
        now_ms=NOW_MS,
        **options,
    )
    return json.loads(result, parse_float=Decimal)


def refusal(body: dict[str, Any]) -> str:
    with pytest.raises(RefusedError) as refused:
        prepare(body)
    return refused.value.reason


def test_a_flat_conversions_consent_state_is_passed_through_unchanged() -> None:
    assert prepare({**FLAT, "consent_state": CONSENT})["consent_state"] == CONSENT


def test_no_consent_state_no_key() -> None:
    assert "consent_state" not in prepare(FLAT)


def test_a_full_batchs_consent_state_passes_through_too() -> None:
    full = {
        "user_identities": {"customerid": "c"},
        "consent_state": CONSENT,
        "events": [{"event_type": "x", "data": {}}],
    }
    assert prepare(full)["consent_state"] == CONSENT


def test_hash_pii_keeps_the_consent_state_but_never_an_email_in_it() -> None:
    consent = {
        "ccpa": {
            "data_sale_opt_out": {**CONSENT["ccpa"]["data_sale_opt_out"], "location": "jane@example.com"}
        }
    }
    sent = prepare({**FLAT, "consent_state": consent}, hash_pii=True)["consent_state"]
    assert sent["ccpa"]["data_sale_opt_out"]["consented"] is True
    assert "jane@example.com" not in json.dumps(sent)


@pytest.mark.parametrize(
    ("consent", "reason"),
    [
        ("yes", "consent_state: must be an object"),
        ({"lgpd": {}}, "consent_state.lgpd: unknown regulation (gdpr or ccpa)"),
        ({"gdpr": []}, "consent_state.gdpr: must be an object of consent purposes"),
        ({"gdpr": {"marketing": True}}, "consent_state.gdpr.marketing: must be an object with consented and"),
        (
            {"gdpr": {"marketing": {"timestamp_unixtime_ms": 1}}},
            "consent_state.gdpr.marketing.consented: must be true or false",
        ),
        (
            {"gdpr": {"marketing": {"consented": "yes", "timestamp_unixtime_ms": 1}}},
            "consent_state.gdpr.marketing.consented: must be",
        ),
        (
            {"gdpr": {"marketing": {"consented": True}}},
            "consent_state.gdpr.marketing.timestamp_unixtime_ms: must be an integer",
        ),
        (
            {"gdpr": {"marketing": {"consented": True, "timestamp_unixtime_ms": "2024-01-01"}}},
            "consent_state.gdpr.marketing.timestamp_unixtime_ms: must be an integer (epoch milliseconds)",
        ),
        (
            {"gdpr": {"marketing": {"consented": True, "timestamp_unixtime_ms": 1, "documnet": "v1"}}},
            "consent_state.gdpr.marketing.documnet: unknown field",
        ),
        (
            {"gdpr": {"marketing": {"consented": True, "timestamp_unixtime_ms": 1, "location": 7}}},
            "consent_state.gdpr.marketing.location: must be a string",
        ),
        (
            {"gdpr": {"": {"consented": True, "timestamp_unixtime_ms": 1}}},
            "consent_state.gdpr.…: a purpose must have a name",
        ),
        (
            {"ccpa": {"do_not_sell": {"consented": True, "timestamp_unixtime_ms": 1}}},
            "consent_state.ccpa.do_not_sell: the CCPA purpose is data_sale_opt_out",
        ),
    ],
)
def test_a_consent_state_breaking_the_schema_is_refused_naming_the_field(consent: Any, reason: str) -> None:
    assert refusal({**FLAT, "consent_state": consent}).startswith(reason)
    full = {
        "user_identities": {"customerid": "c"},
        "consent_state": consent,
        "events": [{"event_type": "x", "data": {}}],
    }
    assert refusal(full).startswith(reason)


def test_a_purpose_named_with_a_value_is_withheld_from_the_reason() -> None:
    reason = refusal({**FLAT, "consent_state": {"gdpr": {"jane@example.com": {"consented": 1}}}})
    assert "jane" not in reason
    assert reason.startswith("consent_state.gdpr.….consented: must be true or false")


# --- context.data_plan ------------------------------------------------------------------------------

PLAN = {"plan_id": "rokt_conversions", "plan_version": 3}


def test_the_data_plan_is_the_batchs_context() -> None:
    assert prepare(FLAT, data_plan=PLAN)["context"] == {"data_plan": PLAN}
    assert prepare(FLAT, data_plan={"plan_id": "latest_version"})["context"] == {
        "data_plan": {"plan_id": "latest_version"}
    }


def test_no_data_plan_no_context() -> None:
    assert "context" not in prepare(FLAT)


def test_a_full_batch_keeps_its_own_plan_and_gets_ours_beside_its_context() -> None:
    event = [{"event_type": "custom_event", "data": {"event_name": "x"}}]
    own = {
        "user_identities": {"customerid": "c"},
        "context": {"data_plan": {"plan_id": "theirs"}},
        "events": event,
    }
    assert prepare(own, data_plan=PLAN)["context"] == {"data_plan": {"plan_id": "theirs"}}
    located = {**own, "context": {"location": {"latitude": 1, "longitude": 2}}}
    assert prepare(located, data_plan=PLAN)["context"] == {
        "location": {"latitude": 1, "longitude": 2},
        "data_plan": PLAN,
    }
