"""Dead letters as the report sees them: their reason, their source message id, counted by reason."""

import contextlib
import sys
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from ops.queues import (
    queue_depth,
    receive_all,
    release,
)
from rokt_forwarder.ports import REASON, SOURCE_MESSAGE_ID, SOURCE_QUEUE

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

DEAD_LETTER_ATTRIBUTES = frozenset({REASON, SOURCE_MESSAGE_ID, SOURCE_QUEUE})
# What the report calls a dead letter that carries no reason; `redrive --reason` accepts it too.
SQS_REDRIVEN = "(no reason: SQS moved it after MaxReceiveCount failed receives)"
# How long a message received to be looked at or moved stays hidden from others.
HOLD_SECONDS = 120


@dataclass(frozen=True)
class Queues:
    queue_url: str
    dlq_url: str


def attributes_of(message: "MessageTypeDef") -> dict[str, str]:
    """The message's string attributes, by name."""
    return {
        name: value.get("StringValue", "") for name, value in message.get("MessageAttributes", {}).items()
    }


def reason_of(message: "MessageTypeDef") -> str:
    """The forwarder's reason, EventBridge's error (its DLQ attributes), or SQS_REDRIVEN."""
    attributes = attributes_of(message)
    if attributes.get(REASON):
        return attributes[REASON]
    if attributes.get("ERROR_CODE"):
        return f"EventBridge: {attributes['ERROR_CODE']} {attributes.get('ERROR_MESSAGE', '')}".strip()
    return SQS_REDRIVEN


def message_id_of(message: "MessageTypeDef") -> str:
    """The id the record had on the conversions queue (the one the logs show), else the DLQ's."""
    return attributes_of(message).get(SOURCE_MESSAGE_ID) or message["MessageId"]


def by_reason(letters: Mapping[str, str]) -> dict[str, list[str]]:
    """Message id → reason, turned into reason → sorted message ids."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for message_id, reason in sorted(letters.items()):
        grouped[reason].append(message_id)
    return dict(grouped)


def print_by_reason(
    letters: Mapping[str, str], out: IO[str] = sys.stdout, *, ids: int | None = None, title: str = ""
) -> None:
    """Message id → reason, as counts by reason (most first), each with its ids (at most `ids`)."""
    print(title or f"Dead letters, by reason ({len(letters)})", file=out)
    if not letters:
        print("  none", file=out)
    for reason, message_ids in sorted(by_reason(letters).items(), key=lambda item: (-len(item[1]), item[0])):
        shown = message_ids if ids is None else message_ids[:ids]
        more = f" and {len(message_ids) - len(shown)} more" if len(shown) < len(message_ids) else ""
        print(f"  {len(message_ids):>5}  {reason}", file=out)
        print(f"         ids: {', '.join(shown)}{more}", file=out)


@dataclass(frozen=True)
class Look:
    letters: dict[str, str]  # message id → reason
    examined: int  # dead letters received: a message id may have more than one


def look(sqs: "SQSClient", dlq_url: str) -> Look:
    """Every dead letter in sight, each released again at once."""
    letters: dict[str, str] = {}
    held: list[str] = []
    try:
        for messages in receive_all(sqs, dlq_url, visibility_timeout=HOLD_SECONDS):
            letters.update({message_id_of(m): reason_of(m) for m in messages})
            held += [m["ReceiptHandle"] for m in messages]
    finally:
        release_quietly(sqs, dlq_url, held)  # only now: released earlier, they would be received again
    return Look(letters, len(held))


def release_quietly(sqs: "SQSClient", queue_url: str, receipt_handles: list[str]) -> None:
    """Best effort: what is not released comes back after HOLD_SECONDS anyway."""
    with contextlib.suppress(BotoCoreError, ClientError):
        release(sqs, queue_url, receipt_handles)


def unexamined(sqs: "SQSClient", dlq_url: str, examined: int) -> int:
    """Dead letters a run did not reach: held by another consumer, or behind a FIFO group it held.

    From the queue's approximate count, so a count that lags may report some that were reached.
    """
    return max(queue_depth(sqs, dlq_url) - examined, 0)
