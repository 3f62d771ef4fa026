"""SQS on the failure paths only: dead-letter refused records, delay the retry of failed ones.

The client is created on first use, so an invocation in which everything is delivered pays nothing.
"""

import math
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rokt_forwarder.adapters import aws
from rokt_forwarder.adapters.aws import CALL_SECONDS
from rokt_forwarder.packing import first_fit
from rokt_forwarder.ports import REASON, SOURCE_MESSAGE_ID, SOURCE_QUEUE, DeadLetter, Delay, TimeLeft

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# The entries of one SendMessageBatch or ChangeMessageVisibilityBatch call: at most this many.
MAX_ENTRIES_PER_CALL = 10
# SQS counts a message's attributes (name, type and value) toward its size (MaximumMessageSize), and
# refuses a call whose entries add up to more than that as a whole. template.yaml sets it on both queues.
MAX_MESSAGE_BYTES = 256 * 1024
MAX_CALL_BYTES = MAX_MESSAGE_BYTES
MAX_ATTRIBUTE_CHARS = 1024
_STRING = "String"


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
        with self._lock:  # one client, once, even if two threads ask
            if self._client is None:
                self._client = aws.client("sqs")
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
        entries = [_dead_letter_entry(letter, fifo) for letter in letters]
        for chunk in chunks(entries, [entry_bytes(entry) for entry in entries]):
            if time_left() < CALL_SECONDS:
                unsent.update(letters[n].message_id for n in chunk)
                continue
            try:
                response = self.client.send_message_batch(
                    QueueUrl=dlq_url,
                    Entries=[{"Id": str(n), **entries[n]} for n in chunk],  # type: ignore[typeddict-item]
                )
                failed = [int(entry["Id"]) for entry in response.get("Failed", [])]
            except Exception:  # one bad letter must not keep the others out: try each alone
                failed = chunk
            for n in failed:
                if time_left() < CALL_SECONDS or not self._send_one(dlq_url, entries[n]):
                    unsent.add(letters[n].message_id)
        return unsent

    def _send_one(self, dlq_url: str, entry: dict[str, Any]) -> bool:
        try:
            self.client.send_message(QueueUrl=dlq_url, **entry)
        except Exception:  # the record is reported failed instead; SQS will deliver it again
            return False
        return True

    def delay(self, delays: Sequence[Delay], time_left: TimeLeft = _unlimited) -> None:
        """Best effort: if this fails, the records still come back after the queue's visibility timeout."""
        for chunk in chunks(delays, [0] * len(delays)):
            if time_left() < CALL_SECONDS:
                return
            try:
                self.client.change_message_visibility_batch(
                    QueueUrl=self.queue_url(delays[chunk[0]].source_queue_arn),
                    Entries=[
                        {
                            "Id": str(n),
                            "ReceiptHandle": delays[n].receipt_handle,
                            "VisibilityTimeout": delays[n].seconds,
                        }
                        for n in chunk
                    ],
                )
            except Exception:  # noqa: S112 - see docstring: the queue's own timeout is the fallback
                continue


def _dead_letter_entry(letter: DeadLetter, fifo: bool) -> dict[str, Any]:
    """The original body with as much of the why as fits the message size (the body always goes whole).

    Attributes are kept in order of use: the reason (cut if it must be), then the ids (whole or not at all).
    """
    room = MAX_MESSAGE_BYTES - _utf8_size(letter.body)
    attributes: dict[str, dict[str, str]] = {}
    for name, value in (
        (REASON, letter.reason),
        (SOURCE_MESSAGE_ID, letter.message_id),
        (SOURCE_QUEUE, letter.source_queue_arn),
    ):
        text = _clean(value)
        space = room - len(name) - len(_STRING)
        if _utf8_size(text) > space and name == REASON and space > 1:
            text = _cut(text, space)
        if 0 < _utf8_size(text) <= space:
            attributes[name] = {"DataType": _STRING, "StringValue": text}
            room = space - _utf8_size(text)
    entry: dict[str, Any] = {"MessageBody": letter.body, "MessageAttributes": attributes}
    if fifo:
        entry["MessageGroupId"] = letter.group_id or "dead-letters"
        entry["MessageDeduplicationId"] = letter.message_id
    return entry


def entry_bytes(entry: Mapping[str, Any]) -> int:
    """A send entry's size as SQS counts it: the body, and each attribute's name, type and value."""
    attributes = entry.get("MessageAttributes", {}).items()
    return _utf8_size(entry["MessageBody"]) + sum(
        len(name)
        + len(value["DataType"])
        + _utf8_size(value.get("StringValue", ""))
        + len(value.get("BinaryValue", b""))
        for name, value in attributes
    )


def _clean(value: str) -> str:
    """Attribute values must be valid Unicode without control characters."""
    clean = "".join(c if c.isprintable() else "?" for c in value[:MAX_ATTRIBUTE_CHARS])
    return clean.encode("utf-8", "replace").decode("utf-8")


def _cut(text: str, size: int) -> str:
    """The start of `text` and "…", in at most `size` UTF-8 bytes."""
    return text.encode()[: max(size - 3, 0)].decode("utf-8", "ignore") + "…"


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "replace"))


def chunks(items: Sequence[object], sizes: Sequence[int]) -> list[list[int]]:
    """Indices of `items` for one call each: MAX_ENTRIES_PER_CALL at most, and MAX_CALL_BYTES of `sizes`.

    One size per item; an item over the byte limit alone still gets a call of its own.
    """
    return first_fit(sizes, MAX_ENTRIES_PER_CALL, lambda total, _: total <= MAX_CALL_BYTES)
