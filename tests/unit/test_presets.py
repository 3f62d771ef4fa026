"""The Shopify and Stripe presets, on payloads written from the platforms' documented examples.

devstack/examples/ holds Shopify's sample order (the webhook reference's orders/create) in the
EventBridge event Shopify delivers, and Stripe's Checkout Session and PaymentIntent objects (the API
reference's) in the Stripe event EventBridge delivers; its README says where each comes from. Each
test changes only what it is about (a topic, a currency, a landing page) and states the whole batch
or the field it expects, as the platforms' documentation defines it.
"""

import copy
import hashlib
import json
import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from literals import NOW_MS, ROOT

from rokt_forwarder import batch
from rokt_forwarder.adapters import producers
from rokt_forwarder.config import ProducerSettings
from rokt_forwarder.errors import RefusedError, SkippedError
from rokt_forwarder.mapping import compile_mappings

EXAMPLES = ROOT / "devstack" / "examples"
ORDER_TIME = "2025-12-31T18:55:00-05:00"  # five minutes before NOW_MS, in the shop's time zone
ORDER_MS = NOW_MS - 300_000
CREATED_S = NOW_MS // 1000 - 60  # Stripe's `created`: epoch seconds
MID = "3b0f2a57-7d1c-4f43-9e7e-2c8f1f2d9a10"
USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15"
SESSION = "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY"
PRESETS = producers.presets()


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return loaded


def shopify_order(**changes: Any) -> dict[str, Any]:
    """Shopify's sample orders/create event, placed five minutes ago; `changes` are the order's."""
    event = example("shopify-orders-create")
    event["detail"]["payload"].update({"created_at": ORDER_TIME, **changes})
    return event


def storefront_order() -> dict[str, Any]:
    """The sample as a live storefront order has it: not a test, a browser, a landing page, a number."""
    event = shopify_order(
        test=False,
        browser_ip="216.191.105.146",
        client_details={
            "accept_language": "en-US,en;q=0.9",
            "browser_height": 1000,
            "browser_ip": "216.191.105.146",
            "browser_width": 1440,
            "session_hash": None,
            "user_agent": USER_AGENT,
        },
        landing_site="/products/ipod-nano?utm_source=rokt&rtid=8a1f3b2c9d",
        confirmation_number="XPAV284CT",
        financial_status="paid",
    )
    event["detail"]["metadata"]["X-Shopify-Test"] = "false"
    return event


def stripe_event(name: str = "stripe-checkout-session-completed", **changes: Any) -> dict[str, Any]:
    """A Stripe example event created a minute ago; `changes` are the object's (data.object)."""
    event = example(name)
    event["detail"]["created"] = CREATED_S
    event["detail"]["data"]["object"].update(changes)
    return event


def prepare(event: dict[str, Any], *, environment: str = "production", hash_pii: bool = False) -> Any:
    body = batch.prepare(
        json.dumps(event),
        environment=environment,
        hash_pii=hash_pii,
        now_ms=NOW_MS,
        mappings=PRESETS,
    )
    return json.loads(body, parse_float=Decimal)


def with_ids(result: Any) -> Any:
    """The batch with its dedup ids replaced by their rule (batch.py: derived from the content)."""
    source_request_id = result["source_request_id"]
    assert source_request_id == str(uuid.UUID(source_request_id)), "a UUID"
    for index, event in enumerate(result["events"]):
        assert event["data"]["source_message_id"] == batch.source_id(f"{source_request_id}/{index}")
        event["data"]["source_message_id"] = MID
    return {**result, "source_request_id": batch.source_id(MID)}


def attributes(result: Any) -> dict[str, Any]:
    found: dict[str, Any] = result["events"][0]["data"]["custom_attributes"]
    return found


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- Shopify ----------------------------------------------------------------------------------------


def test_shopifys_sample_order_becomes_this_batch() -> None:
    assert with_ids(prepare(shopify_order())) == {
        "environment": "development",  # the sample is a test order
        "source_request_id": batch.source_id(MID),
        "user_identities": {"email": "jon@example.com", "customerid": "115310627314723954"},
        "user_attributes": {
            "firstname": "John",
            "lastname": "Smith",
            "mobile": "555-555-SHIP",  # the billing address's: the order and the customer have none
            "billingzipcode": "40003",
        },
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "conversion",
                    "custom_event_type": "transaction",
                    "source_message_id": MID,
                    "timestamp_unixtime_ms": ORDER_MS,
                    "custom_attributes": {
                        "amount": Decimal("388.00"),  # total_price, exact as written
                        "currency": "USD",
                        "quantity": 2,
                        "conversiontype": "purchase",
                        "productname": "IPod Nano - 8GB",
                        "sku": "IPOD2008PINK",
                        "paymenttype": "visa",
                        "transactionid": "820982911946154508",  # past 2**53: exact, as a string
                        "confirmationref": "#9999",  # no confirmation_number: the order's name
                        "order_name": "#9999",
                        "order_number": 1234,
                        "source_name": "web",
                    },
                },
            }
        ],
    }


def test_a_storefront_order_carries_the_browser_the_click_id_and_the_confirmation_number() -> None:
    result = prepare(storefront_order())
    assert result["environment"] == "production"  # the stack's: a live order
    assert result["ip"] == "216.191.105.146"
    assert result["user_attributes"]["ipaddress"] == "216.191.105.146"
    assert result["device_info"] == {"http_header_user_agent": USER_AGENT}
    assert result["user_identities"]["other2"] == "8a1f3b2c9d"
    assert result["integration_attributes"] == {"1277": {"passbackconversiontrackingid": "8a1f3b2c9d"}}
    assert attributes(result)["confirmationref"] == "XPAV284CT"
    assert attributes(result)["transactionid"] == "820982911946154508"


def test_an_rtid_note_attribute_wins_over_the_landing_page() -> None:
    event = storefront_order()
    event["detail"]["payload"]["note_attributes"] = [
        {"name": "gift_note", "value": "Happy birthday"},
        {"name": "rtid", "value": "from-the-cart"},
    ]
    result = prepare(event)
    assert result["user_identities"]["other2"] == "from-the-cart"
    assert result["integration_attributes"]["1277"]["passbackconversiontrackingid"] == "from-the-cart"


def test_without_a_click_id_there_is_no_rokt_integration_attribute() -> None:
    result = prepare(shopify_order(landing_site="/collections/all?utm_source=newsletter"))
    assert "other2" not in result["user_identities"]
    assert "integration_attributes" not in result


@pytest.mark.parametrize(
    ("header", "test", "environment"),
    [
        ("true", True, "development"),
        ("true", False, "development"),  # a test webhook (Send test notification) of a real order
        ("false", True, "development"),  # a test order (Bogus Gateway)
        ("false", False, "production"),
        (None, False, "production"),
    ],
)
def test_a_test_order_is_development_data(header: str | None, test: bool, environment: str) -> None:
    event = shopify_order(test=test)
    if header is None:
        del event["detail"]["metadata"]["X-Shopify-Test"]
    else:
        event["detail"]["metadata"]["X-Shopify-Test"] = header
    assert prepare(event)["environment"] == environment


@pytest.mark.parametrize("topic", ["orders/paid", "orders/updated", "orders/cancelled", "customers/create"])
def test_other_topics_are_skipped_not_failed(topic: str) -> None:
    event = shopify_order()
    event["detail"]["metadata"]["X-Shopify-Topic"] = topic
    with pytest.raises(SkippedError) as skipped:
        prepare(event)
    assert skipped.value.reason == f"shopify: {topic} does not meet the mapping's convert"


def test_the_email_falls_back_to_the_contact_email_then_the_customers() -> None:
    assert prepare(shopify_order(email=""))["user_identities"]["email"] == "jon@example.com"
    order = shopify_order(email=None, contact_email=None)
    assert prepare(order)["user_identities"]["email"] == "john@example.com"


def test_an_order_without_any_identity_is_refused_as_a_flat_conversion_is() -> None:
    with pytest.raises(RefusedError) as refused:
        prepare(shopify_order(email=None, contact_email=None, customer=None))
    assert (
        refused.value.reason
        == "user_identities: needs at least one of email, other, customerid, other2 (rtid)"
    )


def test_a_bad_email_is_refused_with_the_flat_reason_and_no_value() -> None:
    with pytest.raises(RefusedError) as refused:
        prepare(shopify_order(email="jon.at.example.com"))
    assert refused.value.reason == "email: must be an email address"


def test_shopifys_sample_as_dated_is_too_old_for_the_event_api() -> None:
    event = shopify_order(created_at="2021-12-31T19:00:00-05:00")
    with pytest.raises(RefusedError) as refused:
        prepare(event)
    assert refused.value.reason == "timestamp: must not be older than 30 days"


def test_hash_pii_hashes_the_mapped_contact_data_as_for_a_flat_conversion() -> None:
    result = prepare(storefront_order(), hash_pii=True)
    assert result["user_identities"] == {
        "customerid": "115310627314723954",
        "other2": "8a1f3b2c9d",
        "other": sha("jon@example.com"),
    }
    assert result["user_attributes"] == {
        "firstnamesha256": sha("john"),
        "lastnamesha256": sha("smith"),
        "mobilesha256": sha("555555SHIP"),
        "billingzipsha256": sha("40003"),
        "ipaddress": "216.191.105.146",  # sent as given, as for a flat conversion
    }


def test_a_shopify_event_arriving_through_sns_is_mapped_too() -> None:
    sns = {
        "Type": "Notification",
        "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:orders",
        "Message": json.dumps(shopify_order()),
        "Timestamp": "2026-01-01T00:00:00.000Z",
    }
    assert prepare(sns) == prepare(shopify_order())


# --- Stripe -----------------------------------------------------------------------------------------


def test_stripes_checkout_session_becomes_this_batch() -> None:
    assert with_ids(prepare(stripe_event())) == {
        "environment": "development",  # livemode: false
        "source_request_id": batch.source_id(MID),
        "user_identities": {"email": "jenny.rosen@example.com"},
        "user_attributes": {"firstname": "Jenny", "lastname": "Rosen", "billingzipcode": "94080"},
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "conversion",
                    "custom_event_type": "transaction",
                    "source_message_id": MID,
                    "timestamp_unixtime_ms": CREATED_S * 1000,
                    "custom_attributes": {
                        "amount": Decimal("21.98"),  # amount_total 2198, in cents
                        "currency": "USD",
                        "conversiontype": "purchase",
                        "transactionid": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
                        "confirmationref": SESSION,
                        "checkout_mode": "payment",
                    },
                },
            }
        ],
    }


@pytest.mark.parametrize(
    ("currency", "amount_total", "amount"),
    [
        ("usd", 4999, "49.99"),
        ("jpy", 4999, "4999"),  # zero-decimal: unchanged
        ("krw", 65000, "65000"),
        ("kwd", 5120, "5.120"),  # three-decimal: /1000
        ("bhd", 1000, "1.000"),
        ("jod", 4990, "4.990"),
        ("omr", 12340, "12.340"),
        ("tnd", 100, "0.100"),
        ("eur", 0, "0.00"),  # a 100 % discount is still a conversion, of 0
    ],
)
def test_the_amount_comes_from_the_currencys_minor_unit_exactly(
    currency: str, amount_total: int, amount: str
) -> None:
    result = attributes(prepare(stripe_event(currency=currency, amount_total=amount_total)))
    assert str(result["amount"]) == amount
    assert result["currency"] == currency.upper()


def test_the_click_id_is_the_sessions_metadata_rtid() -> None:
    result = prepare(stripe_event(metadata={"rtid": "8a1f3b2c9d", "order": "A-1"}))
    assert result["user_identities"]["other2"] == "8a1f3b2c9d"
    assert result["integration_attributes"] == {"1277": {"passbackconversiontrackingid": "8a1f3b2c9d"}}


def test_the_client_reference_id_is_the_customer_id_before_stripes_customer() -> None:
    assert prepare(stripe_event(customer="cus_NffrFeUfNV2Hib"))["user_identities"]["customerid"] == (
        "cus_NffrFeUfNV2Hib"
    )
    both = stripe_event(customer="cus_NffrFeUfNV2Hib", client_reference_id="user-4711")
    assert prepare(both)["user_identities"]["customerid"] == "user-4711"


def test_a_prefilled_customer_email_stands_in_when_none_was_collected() -> None:
    event = stripe_event(customer_email="jenny@example.com")
    event["detail"]["data"]["object"]["customer_details"]["email"] = None
    assert prepare(event)["user_identities"]["email"] == "jenny@example.com"


def test_a_live_payment_is_sent_as_the_stack_says() -> None:
    event = stripe_event(livemode=True)
    event["detail"]["livemode"] = True
    assert prepare(event, environment="production")["environment"] == "production"
    assert prepare(event, environment="development")["environment"] == "development"


def test_a_subscription_checkout_is_referenced_by_its_invoice() -> None:
    result = prepare(
        stripe_event(mode="subscription", payment_intent=None, invoice="in_1MtHbELkdIwHu7ixl4OzzPMv")
    )
    assert attributes(result)["transactionid"] == "in_1MtHbELkdIwHu7ixl4OzzPMv"
    assert attributes(result)["checkout_mode"] == "subscription"


def test_an_asynchronous_payment_counts_once_it_succeeds() -> None:
    unpaid = stripe_event(payment_status="unpaid")
    with pytest.raises(SkippedError) as skipped:
        prepare(unpaid)
    assert skipped.value.reason == "stripe: checkout.session.completed does not meet the mapping's convert"

    succeeded = stripe_event(payment_status="paid")
    succeeded["detail-type"] = succeeded["detail"]["type"] = "checkout.session.async_payment_succeeded"
    result = prepare(succeeded)
    assert attributes(result)["confirmationref"] == unpaid["detail"]["data"]["object"]["id"]  # deduplicated


@pytest.mark.parametrize(
    "event_type",
    ["payment_intent.succeeded", "checkout.session.expired", "checkout.session.async_payment_failed"],
)
def test_other_event_types_are_skipped_not_failed(event_type: str) -> None:
    event = stripe_event("stripe-payment-intent-succeeded")
    event["detail-type"] = event["detail"]["type"] = event_type
    with pytest.raises(SkippedError) as skipped:
        prepare(event)
    assert skipped.value.reason == f"stripe: {event_type} does not meet the mapping's convert"


def test_a_checkout_without_an_email_or_customer_is_refused_as_a_flat_conversion_is() -> None:
    event = stripe_event()
    event["detail"]["data"]["object"]["customer_details"] = None
    with pytest.raises(RefusedError) as refused:
        prepare(event)
    assert (
        refused.value.reason
        == "user_identities: needs at least one of email, other, customerid, other2 (rtid)"
    )


def test_hash_pii_hashes_the_mapped_stripe_contact_data() -> None:
    event = stripe_event()
    event["detail"]["data"]["object"]["customer_details"]["phone"] = "+1 (650) 555-0123"
    result = prepare(event, hash_pii=True)
    assert result["user_identities"] == {"other": sha("jenny.rosen@example.com")}
    assert result["user_attributes"] == {
        "firstnamesha256": sha("jenny"),
        "lastnamesha256": sha("rosen"),
        "mobilesha256": sha("+16505550123"),
        "billingzipsha256": sha("94080"),
    }


# --- the payment_intent mapping offered in docs/mappings --------------------------------------------


def test_the_documented_payment_intent_mapping_comes_before_the_preset() -> None:
    own = json.loads((ROOT / "docs" / "mappings" / "stripe-payment-intents.json").read_text())
    mappings = compile_mappings(own) + PRESETS
    event = stripe_event(
        "stripe-payment-intent-succeeded", receipt_email="jenny.rosen@example.com", metadata={"rtid": "r-77"}
    )
    body = batch.prepare(
        json.dumps(event),
        environment="production",
        hash_pii=False,
        now_ms=NOW_MS,
        mappings=mappings,
    )
    result = json.loads(body, parse_float=Decimal)
    assert result["user_identities"] == {"email": "jenny.rosen@example.com", "other2": "r-77"}
    assert attributes(result)["amount"] == Decimal("20.00")  # amount_received 2000
    assert attributes(result)["transactionid"] == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    # The preset still owns the Checkout events.
    completed = batch.prepare(
        json.dumps(stripe_event()),
        environment="production",
        hash_pii=False,
        now_ms=NOW_MS,
        mappings=mappings,
    )
    assert json.loads(completed)["events"][0]["data"]["custom_attributes"]["confirmationref"].startswith(
        "cs_test_"
    )


# --- the presets themselves -------------------------------------------------------------------------


def test_the_presets_are_shopify_then_stripe_and_a_users_mapping_comes_first(
    tmp_path: Path, monkeypatch: Any
) -> None:
    assert PRESETS.names == ("shopify", "stripe")
    (tmp_path / "mapping.json").write_text(
        json.dumps({"name": "mine", "match": "`false`", "fields": {"email": "e"}})
    )
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    assert producers.load(ProducerSettings(mapping_file="mapping.json")).names == (
        "mine",
        "shopify",
        "stripe",
    )


def test_a_flat_conversion_is_no_presets_business() -> None:
    flat = {"email": "jane@example.com", "amount": "1.00", "currency": "USD"}
    assert PRESETS.convert(flat) is None
    on_a_bus = {**example("stripe-checkout-session-completed"), "source": "com.example.shop", "detail": flat}
    assert PRESETS.convert(copy.deepcopy(on_a_bus)) is None


def test_the_mapping_documented_in_docs_mappings_compiles_and_maps_its_example() -> None:
    text = (ROOT / "docs" / "mappings.md").read_text()
    (block,) = re.findall(r"```json\n(.*?)```", text, re.DOTALL)
    mappings = compile_mappings(json.loads(block))
    event = {
        "source": "com.example.checkout",
        "detail-type": "OrderPlaced",
        "detail": {
            "status": "paid",
            "buyer": {"email": " Jane@Example.com ", "id": "u-1"},
            "landing_url": "https://shop.example.com/?rtid=r-1",
            "total_cents": 4999,
            "currency": "eur",
            "order_id": "o-1",
            "order_number": "1001",
            "placed_at": "2025-12-31T23:55:00Z",
            "channel": "web",
        },
    }
    assert mappings.convert(event) == {
        "email": "jane@example.com",
        "customerid": "u-1",
        "rtid": "r-1",
        "amount": Decimal("49.99"),
        "currency": "EUR",
        "transactionid": "o-1",
        "confirmationref": "1001",
        "conversiontype": "purchase",
        "timestamp": "2025-12-31T23:55:00Z",
        "custom_attributes": {"channel": "web"},
    }
    with pytest.raises(SkippedError, match="my-shop: OrderPlaced does not meet"):
        mappings.convert({**event, "detail": {**event["detail"], "status": "pending"}})
