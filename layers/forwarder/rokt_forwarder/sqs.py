"""SQS on the failure paths only: dead-letter refused records, delay the retry of failed ones.

The client is created on first use, so an invocation in which everything is delivered pays nothing.
"""

import math
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from rokt_forwarder.ports import DeadLetter, Delay, TimeLeft

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# One attempt per call, started only with SQS_CALL_SECONDS left: a DLQ send that fails is retried with
# its record, a visibility change that fails falls back to the queue's timeout.
CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1})
SQS_CALL_SECONDS = 3.5
SQS_BATCH = 10
# SendMessageBatch refuses a batch over 1 MiB (256 KiB on older queues) as a whole: stay under both.
MAX_BATCH_BYTES = 256 * 1024
MAX_ATTRIBUTE_CHARS = 1024


def _unlimited() -> float:
    return math.inf


class Sqs:
    """`ports.DeadLetterQueue` and `ports.VisibilityTimeouts` over boto3; every failure is contained."""

    def __init__(self, client: "SQSClient | None" = None) -> None:
        """`client` is made on first use when not given, so a clean invocation never creates one."""
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> "SQSClient":
        with self._lock:  # boto3's default session is not thread-safe; make one client, once
            if self._client is None:
                self._client = boto3.session.Session().client("sqs", config=CLIENT_CONFIG)
            return self._client

    def queue_url(self, queue_arn: str) -> str:
        """The URL of a queue from its ARN, on the endpoint boto3 resolved (AWS or AWS_ENDPOINT_URL)."""
        _, _, _, _, account, name = queue_arn.split(":", 5)
        return f"{self.client.meta.endpoint_url}/{account}/{name}"

    def dead_letter(
        self, dlq_url: str, letters: Sequence[DeadLetter], time_left: TimeLeft = _unlimited
    ) -> set[str]:
        """Send the original bodies with the reason; returns the message ids that could NOT be sent."""
        fifo = dlq_url.endswith(".fifo")
        unsent: set[str] = set()
        for chunk in _chunks(letters):
            if time_left() < SQS_CALL_SECONDS:
                unsent.update(letter.message_id for letter in chunk)
                continue
            entries = [_dead_letter_entry(n, letter, fifo) for n, letter in enumerate(chunk)]
            try:
                response = self.client.send_message_batch(QueueUrl=dlq_url, Entries=entries)  # type: ignore[arg-type]
                failed = {chunk[int(entry["Id"])] for entry in response.get("Failed", [])}
            except Exception:  # one bad letter must not keep the others out: try each alone
                failed = set(chunk)
            for letter in failed:
                if time_left() < SQS_CALL_SECONDS or not self._send_one(
                    dlq_url, _dead_letter_entry(0, letter, fifo)
                ):
                    unsent.add(letter.message_id)
        return unsent

    def _send_one(self, dlq_url: str, entry: dict[str, Any]) -> bool:
        entry.pop("Id")
        try:
            self.client.send_message(QueueUrl=dlq_url, **entry)
        except Exception:  # the record is reported failed instead; SQS will deliver it again
            return False
        return True

    def delay(self, delays: Sequence[Delay], time_left: TimeLeft = _unlimited) -> None:
        """Best effort: if this fails, the records still come back after the queue's visibility timeout."""
        for chunk in _chunks(delays):
            if time_left() < SQS_CALL_SECONDS:
                return
            try:
                self.client.change_message_visibility_batch(
                    QueueUrl=self.queue_url(chunk[0].source_queue_arn),
                    Entries=[
                        {"Id": str(n), "ReceiptHandle": d.receipt_handle, "VisibilityTimeout": d.seconds}
                        for n, d in enumerate(chunk)
                    ],
                )
            except Exception:  # noqa: S112 - see docstring: the queue's own timeout is the fallback
                continue


def _dead_letter_entry(index: int, letter: DeadLetter, fifo: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Id": str(index),
        "MessageBody": letter.body,
        "MessageAttributes": {
            "reason": _text(letter.reason),
            "source_message_id": _text(letter.message_id),
            "source_queue": _text(letter.source_queue_arn),
        },
    }
    if fifo:
        entry["MessageGroupId"] = letter.group_id or "dead-letters"
        entry["MessageDeduplicationId"] = letter.message_id
    return entry


def _text(value: str) -> dict[str, str]:
    # Attribute values must be valid Unicode without control characters.
    clean = "".join(c if c.isprintable() else "?" for c in value[:MAX_ATTRIBUTE_CHARS])
    return {"DataType": "String", "StringValue": clean.encode("utf-8", "replace").decode("utf-8")}


def _chunks[T: (DeadLetter, Delay)](items: Sequence[T]) -> Iterator[list[T]]:
    """At most ten entries and MAX_BATCH_BYTES of bodies per call."""
    chunk: list[T] = []
    size = 0
    for item in items:
        item_size = len(item.body.encode("utf-8", "replace")) if isinstance(item, DeadLetter) else 0
        if chunk and (len(chunk) == SQS_BATCH or size + item_size > MAX_BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk
