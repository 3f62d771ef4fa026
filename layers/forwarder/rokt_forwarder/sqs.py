"""SQS on the failure paths only: dead-letter refused records, delay the retry of failed ones.

The client is created on first use, so an invocation in which everything is delivered pays nothing.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SQS_BATCH = 10
MAX_ATTRIBUTE_CHARS = 1024


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    body: str
    reason: str
    source_queue_arn: str
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delay:
    message_id: str
    receipt_handle: str
    source_queue_arn: str
    seconds: int


@cache
def _client() -> "SQSClient":
    return boto3.client("sqs")


def queue_url(queue_arn: str) -> str:
    """The URL of a queue from its ARN, on the endpoint boto3 resolved (AWS or AWS_ENDPOINT_URL)."""
    _, _, _, _, account, name = queue_arn.split(":", 5)
    return f"{_client().meta.endpoint_url}/{account}/{name}"


def dead_letter(dlq_url: str, letters: Sequence[DeadLetter]) -> set[str]:
    """Send the original bodies with the reason; returns the message ids that could NOT be sent."""
    fifo = dlq_url.endswith(".fifo")
    failed: set[str] = set()
    for chunk in _chunks(letters):
        entries: list[Any] = [_dead_letter_entry(n, letter, fifo) for n, letter in enumerate(chunk)]
        try:
            response = _client().send_message_batch(QueueUrl=dlq_url, Entries=entries)
        except Exception:  # any failure here means: report the records failed, SQS retries them
            failed.update(letter.message_id for letter in chunk)
            continue
        failed.update(chunk[int(entry["Id"])].message_id for entry in response.get("Failed", []))
    return failed


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


def delay(delays: Sequence[Delay]) -> None:
    """Best effort: if this fails, the records still come back after the queue's visibility timeout."""
    for chunk in _chunks(delays):
        try:
            _client().change_message_visibility_batch(
                QueueUrl=queue_url(chunk[0].source_queue_arn),
                Entries=[
                    {"Id": str(n), "ReceiptHandle": d.receipt_handle, "VisibilityTimeout": d.seconds}
                    for n, d in enumerate(chunk)
                ],
            )
        except Exception:  # noqa: S112 - see docstring: the queue's own timeout is the fallback
            continue


def _text(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value[:MAX_ATTRIBUTE_CHARS]}


def _chunks[T](items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), SQS_BATCH):
        yield items[start : start + SQS_BATCH]
