"""Producers' own events through the real handler, moto in server mode (SQS, SSM) and the sandbox over HTTP.

Shopify and Stripe events as their EventBridge partner sources deliver them (devstack/platforms.py,
from the platforms' documented examples); a user's mapping from a shipped file and from an SSM
parameter; the data plan; consent_state. A skipped event is not reported failed and not dead-lettered.
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from support import dead_letters, lambda_handler, send_and_invoke

from devstack import platforms
from devstack.embedded_aws import CREDENTIALS, EmbeddedAws
from rokt_forwarder.errors import ConfigError

NOW = datetime.now(UTC) - timedelta(minutes=5)
OWN_EVENT = {"order": {"buyer": "jane@example.com", "total": 12.5, "ccy": "eur", "landing": "/?rtid=r-9"}}
OWN_MAPPING = {
    "name": "my-shop",
    "match": "order != null",
    "fields": {
        "email": "order.buyer",
        "amount": "order.total",
        "currency": "upper(order.ccy)",
        "rtid": "query_param(order.landing, 'rtid')",
    },
}


def by_currency(invocation: Any) -> dict[str, dict[str, Any]]:
    """The accepted batches by their currency (the ids come from the content, not the messages)."""
    batches = invocation.sandbox.accepted_batches()
    found = {attributes(b)["currency"]: b for b in batches}
    assert len(found) == len(batches), "one batch per currency in these tests"
    return found


def attributes(batch: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = batch["events"][0]["data"]["custom_attributes"]
    return found


def ssm(aws: EmbeddedAws) -> Any:
    return boto3.client(
        "ssm",
        endpoint_url=aws.endpoint_url,
        region_name=aws.region,
        aws_access_key_id=CREDENTIALS,
        aws_secret_access_key=CREDENTIALS,
    )


def test_shopify_and_stripe_events_are_sent_and_other_topics_skipped(aws: EmbeddedAws) -> None:
    order = platforms.shopify_order_event(
        NOW,
        order={
            "landing_site": "/?rtid=abc123",
            "browser_ip": "203.0.113.7",
            "confirmation_number": "XPAV284CT",
        },
    )
    updated = platforms.shopify_order_event(NOW, topic="orders/updated")
    jpy = platforms.stripe_event(NOW, changes={"currency": "jpy", "amount_total": 4999})
    kwd = platforms.stripe_event(
        NOW,
        event_type="checkout.session.async_payment_succeeded",
        changes={"currency": "kwd", "amount_total": 5120},
    )
    intent = platforms.stripe_event(NOW, event_type="payment_intent.succeeded")
    invocation = send_and_invoke(
        aws, [order, updated, jpy, kwd, intent], env={"ROKT_ENVIRONMENT": "production"}
    )

    assert invocation.failed == set()  # the skipped ones too: SQS deletes them
    assert dead_letters(aws) == {}
    batches = by_currency(invocation)
    assert set(batches) == {"USD", "JPY", "KWD"}, "the order and the two paid sessions"
    shopify = batches["USD"]
    assert shopify["environment"] == "production"
    assert shopify["user_identities"] == {
        "email": "jon@example.com",
        "customerid": "115310627314723954",
        "other2": "abc123",
    }
    assert shopify["integration_attributes"] == {"1277": {"passbackconversiontrackingid": "abc123"}}
    assert shopify["ip"] == "203.0.113.7"
    assert attributes(shopify)["amount"] == Decimal("388.00")
    assert attributes(shopify)["confirmationref"] == "XPAV284CT"
    assert [
        (attributes(batches[c])["amount"], attributes(batches[c])["currency"]) for c in ("JPY", "KWD")
    ] == [
        (Decimal("4999"), "JPY"),
        (Decimal("5.120"), "KWD"),
    ]
    assert {batches[c]["environment"] for c in ("JPY", "KWD")} == {"development"}  # livemode: false


def test_a_shopify_test_order_is_development_data_on_a_production_stack(aws: EmbeddedAws) -> None:
    invocation = send_and_invoke(
        aws, [platforms.shopify_order_event(NOW, test=True)], env={"ROKT_ENVIRONMENT": "production"}
    )
    (batch,) = invocation.sandbox.accepted_batches()
    assert batch["environment"] == "development"


def test_a_mapping_shipped_with_the_function_maps_the_users_own_events(
    aws: EmbeddedAws, tmp_path: Path
) -> None:
    (tmp_path / "mapping.json").write_text(json.dumps(OWN_MAPPING))
    env = {"LAMBDA_TASK_ROOT": str(tmp_path), "ROKT_MAPPING_FILE": "mapping.json"}
    invocation = send_and_invoke(aws, [OWN_EVENT, platforms.stripe_event(NOW)], env=env)
    assert invocation.failed == set()
    batches = by_currency(invocation)
    own = batches["EUR"]
    assert own["user_identities"] == {"email": "jane@example.com", "other2": "r-9"}
    assert attributes(own)["amount"] == Decimal("12.5")
    assert "USD" in batches, "the presets still map Stripe"


def test_a_mapping_in_an_ssm_parameter_is_read_at_cold_start(aws: EmbeddedAws) -> None:
    ssm(aws).put_parameter(Name="/rokt/mapping", Value=json.dumps([OWN_MAPPING]), Type="String")
    invocation = send_and_invoke(aws, [OWN_EVENT], env={"ROKT_MAPPING_PARAMETER": "/rokt/mapping"})
    assert invocation.failed == set()
    (batch,) = invocation.sandbox.accepted_batches()
    assert batch["user_identities"]["email"] == "jane@example.com"


def test_a_bad_mapping_fails_the_cold_start_naming_the_source_and_the_field(aws: EmbeddedAws) -> None:
    bad = {**OWN_MAPPING, "fields": {**OWN_MAPPING["fields"], "ammount": "order.total"}}
    ssm(aws).put_parameter(Name="/rokt/mapping", Value=json.dumps(bad), Type="String")
    env = {**aws.environment(), "ROKT_MAPPING_PARAMETER": "/rokt/mapping"}
    with pytest.raises(ConfigError) as refused, lambda_handler(env):
        pass
    assert str(refused.value).startswith(
        "ROKT_MAPPING_PARAMETER=/rokt/mapping: fields.ammount: not a field of a flat conversion"
    )


def test_a_missing_parameter_fails_the_cold_start_with_one_line(aws: EmbeddedAws) -> None:
    env = {**aws.environment(), "ROKT_MAPPING_PARAMETER": "/rokt/nothing-here"}
    with (
        pytest.raises(ConfigError, match=r"^ROKT_MAPPING_PARAMETER=/rokt/nothing-here: cannot read it \("),
        lambda_handler(env),
    ):
        pass


def test_the_data_plan_and_a_consent_state_reach_the_api(aws: EmbeddedAws) -> None:
    consent = {"ccpa": {"data_sale_opt_out": {"consented": False, "timestamp_unixtime_ms": 1767225600000}}}
    flat = {"email": "jane@example.com", "amount": "19.99", "currency": "USD", "consent_state": consent}
    env = {"ROKT_DATA_PLAN_ID": "rokt_conversions", "ROKT_DATA_PLAN_VERSION": "2"}
    invocation = send_and_invoke(aws, [flat, platforms.stripe_event(NOW)], env=env)
    assert invocation.failed == set()
    batches = invocation.sandbox.accepted_batches()
    assert [b["context"] for b in batches] == [
        {"data_plan": {"plan_id": "rokt_conversions", "plan_version": 2}}
    ] * 2
    assert [b.get("consent_state") for b in batches if "consent_state" in b] == [consent], "the flat one's"


@pytest.mark.parametrize(
    ("sample", "sent", "skipped"), [("sqs-shopify.json", 2, 1), ("sqs-stripe.json", 3, 2)]
)
def test_the_sample_events_send_their_conversions_and_skip_the_rest(
    aws: EmbeddedAws, sample: str, sent: int, skipped: int
) -> None:
    # The bodies of events/<sample>, as `python -m devstack.platforms` writes them, dated now.
    bodies = platforms.sample_events(NOW)[sample]
    invocation = send_and_invoke(aws, bodies)
    assert invocation.failed == set()
    assert dead_letters(aws) == {}
    assert len(invocation.sandbox.accepted_batches()) == sent
    assert len(invocation.ids) - sent == skipped
