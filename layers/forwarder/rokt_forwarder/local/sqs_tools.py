"""Plain SQS helpers shared by the local poller, the demo and tests; they work against real AWS too."""

import logging
import time
from collections.abc import Iterable, Sequence
from itertools import batched
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import MessageTypeDef

logger = logging.getLogger(__name__)

# SQS caps ReceiveMessage and DeleteMessageBatch at ten messages per call.
MAX_MESSAGES_PER_CALL = 10
_DEPTH_ATTRIBUTES: "tuple[QueueAttributeNameType, ...]" = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def queue_depth(sqs: "SQSClient", queue_url: str) -> int:
    """Every message still owned by the queue: visible, in flight, or delayed."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(_DEPTH_ATTRIBUTES))
    return sum(int(attributes["Attributes"].get(name, "0")) for name in _DEPTH_ATTRIBUTES)


def delete_messages(sqs: "SQSClient", queue_url: str, receipt_handles: Iterable[str]) -> int:
    """Delete in batches of ten; returns how many SQS confirmed, since an expired handle fails alone."""
    deleted = 0
    for chunk in batched(receipt_handles, MAX_MESSAGES_PER_CALL, strict=False):
        response = sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(index), "ReceiptHandle": handle} for index, handle in enumerate(chunk)],
        )
        deleted += len(response.get("Successful", []))
        for failure in response.get("Failed", []):
            logger.warning(
                "delete failed on %s: %s %s", queue_url, failure["Code"], failure.get("Message", "")
            )
    return deleted


def drain(sqs: "SQSClient", queue_url: str, wait_seconds: int = 1) -> list["MessageTypeDef"]:
    """Receive and delete until a long poll comes back empty (a short poll may miss messages)."""
    drained: list[MessageTypeDef] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=MAX_MESSAGES_PER_CALL,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return drained
        delete_messages(sqs, queue_url, (message["ReceiptHandle"] for message in messages))
        drained.extend(messages)


def wait_until_drained(
    sqs: "SQSClient", queue_urls: Sequence[str], timeout: float, settle: float = 1.0, interval: float = 0.2
) -> bool:
    """True once every queue stayed empty for `settle` seconds: depth is approximate and may blink to 0."""
    deadline = time.monotonic() + timeout
    empty_since: float | None = None
    while True:
        now = time.monotonic()
        if all(queue_depth(sqs, url) == 0 for url in queue_urls):
            empty_since = now if empty_since is None else empty_since
            if now - empty_since >= settle:
                return True
        else:
            empty_since = None
        if now >= deadline:
            return False
        time.sleep(interval)
