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
from typing import Any

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


def generate(count: int, *, invalid_ratio: float, seed: int, now: datetime | None = None) -> list[Message]:
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    messages = []
    for n in range(count):
        conversion = _conversion(rng, n, now)
        if rng.random() < invalid_ratio:
            kind, make = rng.choice(_INVALID)
            messages.append(Message(make(conversion, rng), kind, valid=False))
        else:
            kind, wrap = rng.choice(_VALID)
            messages.append(Message(wrap(conversion, rng), kind, valid=True))
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


_VALID: list[tuple[str, Callable[[dict[str, Any], random.Random], str]]] = [
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


_INVALID: list[tuple[str, Callable[[dict[str, Any], random.Random], str]]] = [
    ("no identity", _drop_identities),
    ("bad email", lambda c, r: json.dumps({**c, "email": "jane.at.example.com"})),
    ("typo in a field name", lambda c, r: json.dumps({**c, "ammount": c.pop("amount")})),
    ("bad currency", lambda c, r: json.dumps({**c, "currency": "US$"})),
    ("timestamp older than 30 days", lambda c, r: json.dumps({**c, "timestamp": "2000-01-01T00:00:00Z"})),
    ("not JSON", lambda c, r: json.dumps(c)[:-7]),
    ("refused by the API", _refused_by_api),
]
