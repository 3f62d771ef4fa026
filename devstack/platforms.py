"""Shopify and Stripe events as their EventBridge partner sources deliver them: the demo's, send-test's.

Each starts from the platform's documented example in devstack/examples/ (its README says where each
comes from) and changes only what a run must vary: the time (the Event API takes conversions of the
last 30 days only), the ids, the buyer, the amount and the currency, the topic or the event type.
"""

import argparse
import hashlib
import json
import sys
import uuid
from collections.abc import Mapping, Sequence
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


# --- events/sqs-shopify.json and events/sqs-stripe.json -----------------------------------------------

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:rokt-conversions"
DESKTOP_SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15"


def sample_events(when: datetime) -> dict[str, list[dict[str, Any]]]:
    """The bodies of the two sample SQS events: what the presets send, and what they skip."""
    storefront = {
        "browser_ip": "216.191.105.146",
        "client_details": {
            "accept_language": "en-US,en;q=0.9",
            "browser_height": 1000,
            "browser_ip": "216.191.105.146",
            "browser_width": 1440,
            "session_hash": None,
            "user_agent": DESKTOP_SAFARI,
        },
        "landing_site": "/products/ipod-nano?utm_source=rokt&rtid=8a1f3b2c9d",
        "confirmation_number": "XPAV284CT",
        "financial_status": "paid",
    }
    return {
        "sqs-shopify.json": [
            shopify_order_event(when, order=storefront),
            shopify_order_event(when, test=True),
            shopify_order_event(when, topic="orders/updated", order=storefront),
        ],
        "sqs-stripe.json": [
            stripe_event(
                when, changes={"metadata": {"rtid": "8a1f3b2c9d"}, "client_reference_id": "user-4711"}
            ),
            stripe_event(when, changes={"currency": "jpy", "amount_subtotal": 4999, "amount_total": 4999}),
            stripe_event(
                when,
                event_type="checkout.session.async_payment_succeeded",
                changes={"currency": "kwd", "amount_subtotal": 5120, "amount_total": 5120},
            ),
            stripe_event(when, changes={"payment_status": "unpaid"}),
            stripe_event(when, event_type="payment_intent.succeeded"),
        ],
    }


def sqs_event(bodies: list[dict[str, Any]], when: datetime) -> dict[str, Any]:
    """An SQS event as Lambda hands it to the function, one record per body (for `sam local invoke`)."""
    sent = str(int(when.timestamp() * 1000))
    records = []
    for body in bodies:
        text = json.dumps(body, separators=(",", ":"))
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"AQEB{uuid.uuid4().hex}",
                "body": text,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": sent,
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": sent,
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.platforms",
        description="Write events/sqs-shopify.json and events/sqs-stripe.json, dated now: the Event API "
        "refuses conversions older than 30 days, so older samples are dead-lettered for it.",
    )
    parser.add_argument("--out", type=Path, default=EXAMPLES.parents[1] / "events", help="the directory")
    args = parser.parse_args(argv)
    when = datetime.now(UTC).replace(microsecond=0)
    for name, bodies in sample_events(when).items():
        (args.out / name).write_text(json.dumps(sqs_event(bodies, when), indent=2) + "\n")
        print(f"wrote {args.out / name} ({len(bodies)} records, dated {when.isoformat()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
