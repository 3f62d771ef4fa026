"""A realistic mix of conversion messages for the demo and the chaos test.

Each message knows whether the forwarder should deliver it or dead-letter it, so a run can be judged.
"""

import hashlib
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from devstack import platforms

FIRST_NAMES = ("Jane", "Sam", "Maria", "Daniel", "Olivia", "Wei", "Aisha", "Lucas", "Emma", "Noah")
LAST_NAMES = ("Doe", "Lee", "Garcia", "Kim", "Brown", "Zhang", "Khan", "Silva", "Smith", "Jones")
PRODUCTS = (
    ("Trail Running Shoes", "49.99"),
    ("Yoga Mat", "59.00"),
    ("Merino Socks", "19.99"),
    ("Water Bottle", "24.50"),
    ("Rain Jacket", "129.00"),
    ("Gift Card", "0"),
)


@dataclass(frozen=True, slots=True)
class Message:
    body: str
    kind: str
    valid: bool  # False: the forwarder (or the API) refuses it and it must end in the DLQ
    skipped: bool = False  # a producer's event that is not a conversion: neither sent nor dead-lettered


def generate(
    count: int, *, invalid_ratio: float, seed: int, now: datetime | None = None, platforms: bool = False
) -> list[Message]:
    """`platforms` mixes in Shopify and Stripe events (conversions, other topics, an invalid order).

    Without it the mix is the one every forwarder takes (the benchmarks' baselines too).
    """
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    valid, invalid = (
        (_VALID + _PLATFORM_VALID, _INVALID + _PLATFORM_INVALID) if platforms else (_VALID, _INVALID)
    )
    messages = []
    for n in range(count):
        conversion = _conversion(rng, n, now)
        if rng.random() < invalid_ratio:
            kind, make = rng.choice(invalid)
            messages.append(Message(make(conversion, rng), kind, valid=False))
        else:
            kind, wrap = rng.choice(valid)
            messages.append(Message(wrap(conversion, rng), kind, valid=True, skipped=kind in SKIPPED_KINDS))
    return messages


def _conversion(rng: random.Random, n: int, now: datetime) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = f"{first}.{last}.{n}@example.com".lower()
    product, amount = rng.choice(PRODUCTS)
    conversion: dict[str, Any] = {
        "email": email,
        "customerid": f"demo-{n}",
        "firstname": first,
        "lastname": last,
        "ipaddress": f"203.0.113.{rng.randrange(1, 255)}",
        "amount": amount,
        "currency": "USD",
        "quantity": rng.randrange(1, 4),
        "conversiontype": "purchase",
        "productname": product,
        "transactionid": f"TXN-{n:06d}",
        "confirmationref": f"CONF-{uuid.UUID(int=rng.getrandbits(128)).hex[:8].upper()}",
        "timestamp": (now - timedelta(minutes=rng.randrange(0, 600))).isoformat(),
    }
    if rng.random() < 0.3:
        conversion["rtid"] = uuid.UUID(int=rng.getrandbits(128)).hex
    if rng.random() < 0.3:
        conversion["mobile"] = f"+1 (212) 555-{rng.randrange(1000, 9999)}"
    return conversion


def _flat(conversion: dict[str, Any], _rng: random.Random) -> str:
    return json.dumps(conversion)


def _hashed(conversion: dict[str, Any], _rng: random.Random) -> str:
    email = conversion.pop("email")
    return json.dumps({**conversion, "other": hashlib.sha256(email.encode()).hexdigest()})


def eventbridge_event(
    detail: dict[str, Any],
    event_id: str,
    *,
    source: str = "com.example.shop",
    time: str = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    """An EventBridge event as a rule delivers it to SQS: the conversion is its `detail`."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Conversion",
        "source": source,
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def _eventbridge(detail: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return eventbridge_event(detail, str(uuid.UUID(int=rng.getrandbits(128))))


def _sns(message: str, rng: random.Random) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": str(uuid.UUID(int=rng.getrandbits(128))),
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:conversions",
            "Message": message,
            "Timestamp": "2026-01-01T00:00:00.000Z",
            "SignatureVersion": "1",
        }
    )


def _full_batch(conversion: dict[str, Any], _rng: random.Random) -> dict[str, Any]:
    return {
        "environment": "development",
        "user_identities": {"email": conversion["email"], "customerid": conversion["customerid"]},
        "user_attributes": {"firstname": conversion["firstname"], "lastname": conversion["lastname"]},
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "conversion",
                    "custom_attributes": {
                        "amount": conversion["amount"],
                        "currency": "USD",
                        "transactionid": conversion["transactionid"],
                    },
                },
            }
        ],
    }


type Make = Callable[[dict[str, Any], random.Random], str]

_VALID: list[tuple[str, Make]] = [
    ("flat", _flat),
    ("flat", _flat),
    ("flat, hashed email", _hashed),
    ("EventBridge", lambda c, r: json.dumps(_eventbridge(c, r))),
    ("SNS", lambda c, r: _sns(json.dumps(c), r)),
    ("SNS + EventBridge", lambda c, r: _sns(json.dumps(_eventbridge(c, r)), r)),
    ("full batch", lambda c, r: json.dumps(_full_batch(c, r))),
]


def _drop_identities(c: dict[str, Any], _rng: random.Random) -> str:
    return json.dumps({k: v for k, v in c.items() if k not in ("email", "customerid", "rtid")})


def _refused_by_api(c: dict[str, Any], r: random.Random) -> str:
    # Valid to the forwarder, refused by the API (202 with errors[]): the API's own type check.
    return json.dumps({**_full_batch(c, r), "device_info": {"ios_advertising_id": "not-a-guid"}})


_INVALID: list[tuple[str, Make]] = [
    ("no identity", _drop_identities),
    ("bad email", lambda c, r: json.dumps({**c, "email": "jane.at.example.com"})),
    ("typo in a field name", lambda c, r: json.dumps({**c, "ammount": c.pop("amount")})),
    ("bad currency", lambda c, r: json.dumps({**c, "currency": "US$"})),
    ("timestamp older than 30 days", lambda c, r: json.dumps({**c, "timestamp": "2000-01-01T00:00:00Z"})),
    ("not JSON", lambda c, r: json.dumps(c)[:-7]),
    ("refused by the API", _refused_by_api),
]


# --- Shopify and Stripe, from EventBridge (devstack/platforms.py) ------------------------------------


def _when(conversion: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(conversion["timestamp"])


def _shopify(
    conversion: dict[str, Any], rng: random.Random, *, topic: str = "orders/create", test: bool = False
) -> str:
    """The conversion as a Shopify order (a storefront's, with a browser and a landing page)."""
    price = f"{Decimal(conversion['amount']):.2f}"
    quantity = conversion["quantity"]
    landing = "/products/" + conversion["productname"].lower().replace(" ", "-")
    if "rtid" in conversion:
        landing += f"?utm_source=rokt&rtid={conversion['rtid']}"
    order_id = rng.randrange(10**15, 10**16)
    order = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "email": conversion["email"],
        "contact_email": conversion["email"],
        "name": f"#{conversion['transactionid'][-4:]}",
        "confirmation_number": conversion["confirmationref"].removeprefix("CONF-"),
        "browser_ip": conversion["ipaddress"],
        "client_details": {"browser_ip": conversion["ipaddress"], "user_agent": USER_AGENT},
        "landing_site": landing,
        "phone": conversion.get("mobile"),
        "total_price": f"{Decimal(price) * quantity:.2f}",
        "financial_status": "paid",
        "line_items": [platforms.shopify_line_item(conversion["productname"], price, quantity, "SKU-1")],
        "customer": {
            **platforms.example("shopify-orders-create")["detail"]["payload"]["customer"],
            "id": rng.randrange(10**15, 10**16),
            "email": conversion["email"],
            "first_name": conversion["firstname"],
            "last_name": conversion["lastname"],
        },
    }
    event = platforms.shopify_order_event(_when(conversion), topic=topic, test=test, order=order)
    return json.dumps(event)


def _stripe(conversion: dict[str, Any], rng: random.Random) -> str:
    """The conversion as a paid Stripe Checkout Session, in dollars, yen or Kuwaiti dinars."""
    currency, amount = _stripe_amount(conversion, rng)
    address = {
        "city": None,
        "country": "US",
        "line1": None,
        "line2": None,
        "postal_code": "10001",
        "state": None,
    }
    session = {
        "id": f"cs_test_{uuid.UUID(int=rng.getrandbits(128)).hex}",
        "amount_subtotal": amount,
        "amount_total": amount,
        "currency": currency,
        "client_reference_id": conversion["customerid"],
        "customer_details": {
            "address": address,
            "email": conversion["email"],
            "name": f"{conversion['firstname']} {conversion['lastname']}",
            "phone": conversion.get("mobile"),
            "tax_exempt": "none",
            "tax_ids": [],
        },
        "metadata": {"rtid": conversion["rtid"]} if "rtid" in conversion else {},
        "payment_intent": f"pi_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}",
    }
    return json.dumps(platforms.stripe_event(_when(conversion), changes=session))


def _stripe_payment_intent(conversion: dict[str, Any], rng: random.Random) -> str:
    """The PaymentIntent a Checkout payment succeeds with: no conversion of its own (the preset)."""
    currency, amount = _stripe_amount(conversion, rng)
    intent = {
        "id": f"pi_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}",
        "amount": amount,
        "amount_received": amount,
        "currency": currency,
        "receipt_email": conversion["email"],
    }
    event = platforms.stripe_event(_when(conversion), event_type="payment_intent.succeeded", changes=intent)
    return json.dumps(event)


def _stripe_amount(conversion: dict[str, Any], rng: random.Random) -> tuple[str, int]:
    """A currency, and the conversion's amount in its minor unit as Stripe writes it."""
    currency, rate = rng.choice((("usd", "1"), ("usd", "1"), ("jpy", "150"), ("kwd", "0.31")))
    # Whole yen; cents; fils to the ten, as Stripe needs three-decimal amounts to end in 0.
    price = (Decimal(conversion["amount"]) * Decimal(rate)).quantize(
        Decimal(1 if currency == "jpy" else "0.01")
    )
    return currency, platforms.minor_units(price, currency)


USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
)
_PLATFORM_VALID: list[tuple[str, Make]] = [
    ("Shopify order", _shopify),
    ("Shopify test order", lambda c, r: _shopify(c, r, test=True)),
    ("Stripe checkout", _stripe),
    ("Shopify orders/updated", lambda c, r: _shopify(c, r, topic="orders/updated")),
    ("Stripe payment_intent.succeeded", _stripe_payment_intent),
]
SKIPPED_KINDS = frozenset({"Shopify orders/updated", "Stripe payment_intent.succeeded"})
_PLATFORM_INVALID: list[tuple[str, Make]] = [
    ("Shopify order, bad email", lambda c, r: _shopify({**c, "email": "jane.at.example.com"}, r)),
]
