"""Shopify and Stripe events as their EventBridge partner sources deliver them: the demo's, send-test's.

Each starts from the platform's documented example in devstack/examples/ (its README says where each
comes from) and changes only what a run must vary: the time (the Event API takes conversions of the
last 30 days only), the ids, the buyer, the amount and the currency, the topic or the event type.
"""

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from rokt_forwarder.mapping import THREE_DECIMAL_CURRENCIES, ZERO_DECIMAL_CURRENCIES

EXAMPLES = Path(__file__).resolve().parent / "examples"
SHOPIFY_SOURCE = "aws.partner/shopify.com/1234567/rokt-conversions"
STRIPE_SOURCE = "aws.partner/stripe.com/ed_test_61RM8ltWcTW4pfIU816RM8ltAcSQJbxKMDZbKqzTQ1SG"


@cache
def _example_text(name: str) -> str:
    return (EXAMPLES / f"{name}.json").read_text()


def example(name: str) -> dict[str, Any]:
    """A fresh copy of a documented example event (shopify-orders-create, stripe-…)."""
    loaded: dict[str, Any] = json.loads(_example_text(name))
    return loaded


def _eventbridge(event: dict[str, Any], when: datetime, event_id: str | None) -> dict[str, Any]:
    event["id"] = event_id or str(uuid.uuid4())
    event["time"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def shopify_order_event(
    when: datetime,
    *,
    topic: str = "orders/create",
    test: bool = False,
    order: Mapping[str, Any] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """Shopify's sample order, created at `when`, delivered for `topic`; `order` replaces its fields."""
    event = _eventbridge(example("shopify-orders-create"), when, event_id)
    payload = event["detail"]["payload"]
    payload.update(
        {"created_at": when.isoformat(), "updated_at": when.isoformat(), "test": test, **(order or {})}
    )
    metadata = event["detail"]["metadata"]
    metadata.update(
        {
            "X-Shopify-Topic": topic,
            "X-Shopify-Test": "true" if test else "false",
            "X-Shopify-Order-Id": str(payload["id"]),
            "X-Shopify-Triggered-At": when.astimezone(UTC).isoformat(),
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
        }
    )
    event["source"] = SHOPIFY_SOURCE
    return event


def shopify_line_item(name: str, price: str, quantity: int, sku: str) -> dict[str, Any]:
    """The sample's line item as another product."""
    item: dict[str, Any] = example("shopify-orders-create")["detail"]["payload"]["line_items"][0]
    money = {"amount": price, "currency_code": "USD"}
    item.update(
        {
            "name": name,
            "title": name,
            "price": price,
            "price_set": {"shop_money": money, "presentment_money": money},
            "quantity": quantity,
            "current_quantity": quantity,
            "sku": sku,
        }
    )
    return item


def stripe_event(
    when: datetime,
    *,
    event_type: str = "checkout.session.completed",
    changes: Mapping[str, Any] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A Stripe event at `when` carrying the documented object of its kind; `changes` are the object's.

    A checkout.session.* event carries the Checkout Session example, a payment_intent.* one the
    PaymentIntent example. Test mode (livemode false), as Stripe's examples are.
    """
    name = (
        "payment-intent-succeeded"
        if event_type.startswith("payment_intent.")
        else "checkout-session-completed"
    )
    event = _eventbridge(example(f"stripe-{name}"), when, event_id)
    event["detail-type"] = event["detail"]["type"] = event_type
    event["detail"]["id"] = f"evt_{uuid.uuid4().hex[:24]}"
    event["detail"]["created"] = int(when.timestamp())
    event["detail"]["data"]["object"].update(changes or {})
    event["source"] = STRIPE_SOURCE
    return event


def minor_units(amount: str | Decimal, currency: str) -> int:
    """What Stripe writes for `amount` in `currency`: the inverse of the mapping's minor_units()."""
    code = currency.upper()
    decimals = 0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2
    return int(Decimal(amount).scaleb(decimals))
