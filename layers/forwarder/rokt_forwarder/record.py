"""An SQS record as Lambda hands it over: the few fields the forwarder reads.

Not Powertools' SQSRecord: importing its data_classes package (every event type) costs about 60 ms
of cold start for these fields (docs/benchmarks.md).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

# A producer marks a message with this attribute to have its outcome logged by message id (send-test).
TRACE_ATTRIBUTE = "forwarder_trace"


@dataclass(frozen=True, slots=True)
class Record:
    message_id: str
    body: str
    receipt_handle: str
    queue_arn: str
    group_id: str | None  # MessageGroupId, on a FIFO queue
    receive_count: int  # ApproximateReceiveCount: 1 on the first delivery
    sent_ms: int | None  # SentTimestamp: when SQS took the message
    traced: bool

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Self:
        """Raises KeyError or TypeError for what is not an SQS record (Lambda then retries the batch)."""
        attributes = raw.get("attributes") or {}
        return cls(
            message_id=raw["messageId"],
            body=raw["body"],
            receipt_handle=raw["receiptHandle"],
            queue_arn=raw["eventSourceARN"],
            group_id=attributes.get("MessageGroupId"),
            receive_count=_number(attributes.get("ApproximateReceiveCount")) or 1,
            sent_ms=_number(attributes.get("SentTimestamp")),
            traced=TRACE_ATTRIBUTE in (raw.get("messageAttributes") or {}),
        )


def _number(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None
