"""Plain SQS helpers shared by the local poller, the demo and tests; they work against real AWS too."""

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from email.utils import parsedate_to_datetime
from itertools import batched
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import MessageTypeDef

logger = logging.getLogger(__name__)

# SQS caps ReceiveMessage and DeleteMessageBatch at ten messages per call.
MAX_MESSAGES_PER_CALL = 10
_VISIBLE: "QueueAttributeNameType" = "ApproximateNumberOfMessages"
_DEPTH_ATTRIBUTES: "tuple[QueueAttributeNameType, ...]" = (
    _VISIBLE,
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def queue_arn(sqs: "SQSClient", queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def queue_depth(sqs: "SQSClient", queue_url: str, *, visible_only: bool = False) -> int:
    """Every message still owned by the queue: visible, in flight, or delayed.

    `visible_only` counts just the backlog waiting for a consumer, which is what a producer throttles on:
    in-flight messages are already being worked on.
    """
    return _depth(sqs, queue_url, visible_only)[0]


def queue_depth_and_clock(sqs: "SQSClient", queue_url: str) -> tuple[int, int]:
    """queue_depth, and when SQS counted (ms by its clock: the Date of its answer, to the second).

    SQS's clock is the one its SentTimestamp attributes use; the local clock stands in without a Date.
    """
    return _depth(sqs, queue_url, False)


def _depth(sqs: "SQSClient", queue_url: str, visible_only: bool) -> tuple[int, int]:
    names = [_VISIBLE] if visible_only else list(_DEPTH_ATTRIBUTES)
    answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
    depth = sum(int(answer["Attributes"].get(name, "0")) for name in names)
    now_ms = time.time_ns() // 1_000_000
    with contextlib.suppress(TypeError, ValueError):  # no Date, or not a date: the local clock
        now_ms = int(
            parsedate_to_datetime(answer["ResponseMetadata"]["HTTPHeaders"]["date"]).timestamp() * 1000
        )
    return depth, now_ms


def delete_messages(sqs: "SQSClient", queue_url: str, receipt_handles: Iterable[str]) -> list[str]:
    """Delete in batches of ten; returns the handles SQS confirmed, since an expired handle fails alone."""
    deleted: list[str] = []
    for chunk in batched(receipt_handles, MAX_MESSAGES_PER_CALL, strict=False):
        response = sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(index), "ReceiptHandle": handle} for index, handle in enumerate(chunk)],
        )
        deleted += [chunk[int(entry["Id"])] for entry in response.get("Successful", [])]
        for failure in response.get("Failed", []):
            logger.warning(
                "delete failed on %s: %s %s", queue_url, failure["Code"], failure.get("Message", "")
            )
    return deleted


def receive_all(
    sqs: "SQSClient", queue_url: str, wait_seconds: int = 1, *, visibility_timeout: int | None = None
) -> Iterator[list["MessageTypeDef"]]:
    """Each receive's messages not seen before, until a long poll brings nothing new.

    A short poll may miss messages, hence the long poll. What the caller neither deletes nor releases
    stays in flight for the visibility timeout; a message seen twice ends the loop, so a short
    timeout cannot keep it going forever. With `visibility_timeout` the caller holds messages only
    to look at them: those seen twice are released again at once.
    """
    seen: set[str] = set()
    hold: dict[str, int] = {} if visibility_timeout is None else {"VisibilityTimeout": visibility_timeout}
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=MAX_MESSAGES_PER_CALL,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            **hold,  # type: ignore[arg-type]
        ).get("Messages", [])
        fresh = [message for message in messages if message["MessageId"] not in seen]
        if not fresh:
            if visibility_timeout is not None:
                release(sqs, queue_url, [message["ReceiptHandle"] for message in messages])
            return
        seen.update(message["MessageId"] for message in fresh)
        yield fresh


def release(sqs: "SQSClient", queue_url: str, receipt_handles: Iterable[str]) -> None:
    """Make received messages visible again now, not when their visibility timeout ends (best effort)."""
    for chunk in batched(receipt_handles, MAX_MESSAGES_PER_CALL, strict=False):
        response = sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, handle in enumerate(chunk)
            ],
        )
        for failure in response.get("Failed", []):
            logger.warning("release failed on %s: %s", queue_url, failure["Code"])


def drain(
    sqs: "SQSClient",
    queue_url: str,
    wait_seconds: int = 1,
    *,
    wanted: "Callable[[MessageTypeDef], bool] | None" = None,
) -> list["MessageTypeDef"]:
    """Receive everything (receive_all) and delete what is taken.

    With `wanted`, only the messages it accepts are taken: the queue may be a real one shared with
    others (a production DLQ), whose messages must survive. Those are left in flight, so SQS returns
    them after their visibility timeout.
    """
    taken: list[MessageTypeDef] = []
    for fresh in receive_all(sqs, queue_url, wait_seconds):
        mine = [message for message in fresh if wanted is None or wanted(message)]
        delete_messages(sqs, queue_url, (message["ReceiptHandle"] for message in mine))
        taken.extend(mine)
    return taken


def wait_until_drained(
    sqs: "SQSClient",
    queue_urls: Sequence[str],
    timeout: float,
    settle: float = 1.0,
    interval: float = 0.2,
    *,
    busy: Callable[[], bool] | None = None,
    on_tick: Callable[[int], None] | None = None,
) -> bool:
    """True once every queue stayed empty for `settle` seconds: depth is approximate and may blink to 0.

    `busy` holds the wait open while something (a producer) may still add messages, since an empty
    queue then means nothing; `on_tick` sees the total depth on every check, for progress reports.
    """
    deadline = time.monotonic() + timeout
    empty_since: float | None = None
    while True:
        # Asked before the depth: once it says no, every message it sent is counted below.
        sending = busy is not None and busy()
        depth = sum(queue_depth(sqs, url) for url in queue_urls)
        if on_tick is not None:
            on_tick(depth)
        now = time.monotonic()
        if depth == 0 and not sending:
            empty_since = now if empty_since is None else empty_since
            if now - empty_since >= settle:
                return True
        else:
            empty_since = None
        if now >= deadline:
            return False
        time.sleep(interval)
