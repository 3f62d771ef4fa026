"""Synthetic SQS events of valid conversions, as Lambda hands them over, with fresh messageIds.

The bodies cycle through a pool: a body that comes round again is the same conversion to the API,
which deduplicates it (its source_request_id comes from its content), however new its messageId.
"""

import hashlib
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from devstack.runner import sqs_record

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef
from devstack.traffic import generate

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:rokt-conversions"
REGION = "us-east-1"


def bodies(count: int, *, seed: int = 11) -> list[str]:
    """Valid message bodies in the demo's mix of shapes: flat, hashed, SNS, EventBridge, full batch."""
    return [message.body for message in generate(count, invalid_ratio=0, seed=seed)]


def sqs_event(
    pool: Sequence[str], count: int, *, queue_arn: str = QUEUE_ARN, start: int = 0
) -> dict[str, Any]:
    """`count` records whose bodies cycle through `pool` from `start`."""
    now_ms = str(time.time_ns() // 1_000_000)
    records = []
    for n in range(count):
        body = pool[(start + n) % len(pool)]
        message: MessageTypeDef = {
            "MessageId": str(uuid.uuid4()),
            "ReceiptHandle": uuid.uuid4().hex,
            "Body": body,
            "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
            "Attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": now_ms,
                "SenderId": "AIDAEXAMPLE",
                "ApproximateFirstReceiveTimestamp": now_ms,
            },
        }
        records.append(sqs_record(message, queue_arn, REGION))
    return {"Records": records}
