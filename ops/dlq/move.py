"""redrive: dead letters back to the conversions queue, none lost and none duplicated (a journal)."""

import contextlib
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from ops.dlq.letters import (
    DEAD_LETTER_ATTRIBUTES,
    HOLD_SECONDS,
    Queues,
    attributes_of,
    message_id_of,
    reason_of,
    release_quietly,
)
from ops.queues import (
    delete_messages,
    queue_arn,
    queue_depth_and_clock,
    receive_all,
)
from rokt_forwarder.adapters.sqs import chunks, entry_bytes
from rokt_forwarder.ports import SOURCE_QUEUE

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef, SendMessageBatchRequestEntryTypeDef

# redrive prints a line of progress each time this many more letters are moved.
PROGRESS_EVERY = 100
# Error codes meaning "this endpoint has no StartMessageMoveTask" (moto answers a bare 500).
_UNSUPPORTED = frozenset({"UnsupportedOperation", "InvalidAction", "NotImplemented", "UnknownOperation"})


@dataclass
class Moved:
    """What a redrive did; `task` is the SQS move task's handle when SQS does the moving."""

    moved: int = 0
    skipped: int = 0  # not selected (another reason), or from another queue: left in the DLQ
    later: int = 0  # dead-lettered after the run started (new, or moved and refused again): not this pass's
    unsent: int = 0  # the queue refused them: left in the DLQ
    undeleted: int = 0  # sent, but the DLQ refused the delete: in both queues until the next run
    at_start: int = 0  # the DLQ's approximate depth when the run started
    task: str | None = None
    error: str | None = None  # why the run stopped early: AWS refused or could not be reached
    interrupted: bool = False  # Ctrl-C stopped it; every letter handled so far is in one queue

    @property
    def left(self) -> int:
        """How many of the letters of its pass are still in the DLQ."""
        return self.skipped + self.unsent + self.undeleted

    @property
    def unreached(self) -> int:
        """Letters of the pass it never saw: held by another consumer, or behind a FIFO group it held.

        From the approximate depth at the start, so a count that lags may report some it reached.
        """
        return max(self.at_start - self.moved - self.left, 0)


class Journal:
    """The letters a redrive sent to the queue and has not yet deleted from the DLQ, kept in a file.

    A run stopped between the two (killed, its network lost) leaves them in both queues; the next run
    finds them here and deletes them from the DLQ without sending them again: a letter is never
    duplicated. Entries are the letters' DLQ message ids; SQS keeps a letter 14 days at most, and so
    does the journal.
    """

    KEEP_SECONDS = 14 * 24 * 3600

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            entries = {}
        oldest = time.time() - self.KEEP_SECONDS
        self._sent: dict[str, float] = {mid: at for mid, at in entries.items() if at > oldest}

    @classmethod
    def for_queue(cls, dlq_url: str) -> "Journal":
        """The journal of this DLQ in the user's cache directory (XDG_CACHE_HOME, else ~/.cache)."""
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        name = hashlib.sha256(dlq_url.encode()).hexdigest()[:16]
        return cls(cache / "rokt-event-forwarder" / f"redrive-{name}.json")

    def __contains__(self, dlq_message_id: str) -> bool:
        return dlq_message_id in self._sent

    def __len__(self) -> int:
        return len(self._sent)

    def sent(self, dlq_message_ids: Iterable[str]) -> None:
        now = time.time()
        self._sent.update(dict.fromkeys(dlq_message_ids, now))
        self._save()

    def deleted(self, dlq_message_ids: Iterable[str]) -> None:
        for message_id in dlq_message_ids:
            self._sent.pop(message_id, None)
        self._save()

    def _save(self) -> None:
        """Written whole to a new file, then renamed over the old one: a kill leaves one or the other."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        draft = self.path.with_suffix(".tmp")
        draft.write_text(json.dumps(self._sent), encoding="utf-8")
        draft.replace(self.path)


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Ctrl-C waits until the letters in hand are in one queue, then stops the run (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _: pressed.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def redrive(
    sqs: "SQSClient",
    queues: Queues,
    *,
    journal: Journal,
    reason: str | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    move_task_client: "SQSClient | None" = None,
    progress: Callable[[Moved], None] = lambda _: None,
) -> Moved:
    """Dead letters back to the conversions queue; `reason` selects those with that reason only.

    Without `reason` or `limit`, SQS's own move task does it where the endpoint offers one; it needs
    DestinationArn, since dead letters written with SendMessage have no source SQS knows of.

    Otherwise one pass over what the DLQ held when the run started: a letter sent to the DLQ after
    that (by SQS's clock), or one this run moved that came back (refused again under the message id
    this run gave it), is left for the next run. Without that, letters still invalid would go round
    for ever. `progress` sees the counts each time PROGRESS_EVERY more letters are moved.
    """
    destination = queue_arn(sqs, queues.queue_url)
    if reason is None and limit is None and not dry_run:
        task = _start_move_task(move_task_client or sqs, queue_arn(sqs, queues.dlq_url), destination)
        if task is not None:
            return Moved(task=task)
    fifo = queues.queue_url.endswith(".fifo")
    result = Moved()
    result.at_start, started_ms = queue_depth_and_clock(sqs, queues.dlq_url)
    moved_ids: set[str] = set()  # the message ids this run's letters have on the queue
    held: set[str] = set()  # the receipt handles of letters received and not moved: released at the end
    try:
        for messages in receive_all(sqs, queues.dlq_url, visibility_timeout=HOLD_SECONDS):
            held.update(m["ReceiptHandle"] for m in messages)
            ours = [m for m in messages if not _later(m, started_ms, moved_ids)]
            result.later += len(messages) - len(ours)
            if not ours:
                break  # what is left came after the run started: the pass is over
            chosen: list[MessageTypeDef] = []
            for message in ours:
                source = attributes_of(message).get(SOURCE_QUEUE)
                full = limit is not None and result.moved + len(chosen) >= limit
                if (
                    full
                    or (reason is not None and reason_of(message) != reason)
                    or source not in (None, destination)
                ):
                    result.skipped += 1
                else:
                    chosen.append(message)
            before = result.moved
            if dry_run:
                result.moved += len(chosen)
            else:
                with _uninterrupted():
                    _move(
                        sqs,
                        queues,
                        chosen,
                        fifo=fifo,
                        result=result,
                        journal=journal,
                        moved=moved_ids,
                        held=held,
                    )
            if result.moved // PROGRESS_EVERY > before // PROGRESS_EVERY:
                progress(result)
    except (BotoCoreError, ClientError) as error:
        result.error = f"{type(error).__name__}: {error}"
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        release_quietly(sqs, queues.dlq_url, list(held))  # only now: released earlier, they would come back
    return result


def _later(message: "MessageTypeDef", started_ms: int, moved: set[str]) -> bool:
    """Sent to the DLQ after the run started, or a letter this run moved that came back.

    The Date header is to the second: a letter sent within the second the run started is this pass's.
    """
    sent_ms = int(message.get("Attributes", {}).get("SentTimestamp", "0"))
    return sent_ms >= started_ms + 1000 or message_id_of(message) in moved


def _move(
    sqs: "SQSClient",
    queues: Queues,
    chosen: Sequence["MessageTypeDef"],
    *,
    fifo: bool,
    result: Moved,
    journal: Journal,
    moved: set[str],
    held: set[str],
) -> None:
    """Send to the queue, then delete from the DLQ what the queue confirmed (and no longer `held`).

    Never lost: a letter is deleted only once the queue has it. Never duplicated: a letter is in the
    journal from the queue's confirmation until its delete, and one found there is deleted unsent.
    """
    done = [m for m in chosen if m["MessageId"] in journal]  # sent by a run stopped before its delete
    todo = [m for m in chosen if m["MessageId"] not in journal]
    sent: list[MessageTypeDef] = []
    failure: BotoCoreError | ClientError | None = None
    try:
        for confirmed in _send(sqs, queues.queue_url, todo, fifo):
            journal.sent(m["MessageId"] for m, _ in confirmed)
            moved.update(queue_id for _, queue_id in confirmed)
            sent += [m for m, _ in confirmed]
    except (BotoCoreError, ClientError) as error:
        failure = error  # what was sent before it is deleted below all the same
    result.unsent += len(todo) - len(sent)
    by_handle = {m["ReceiptHandle"]: m["MessageId"] for m in [*done, *sent]}
    try:
        deleted = delete_messages(sqs, queues.dlq_url, by_handle) if by_handle else []
    except (BotoCoreError, ClientError):
        result.undeleted += len(by_handle)
        raise
    journal.deleted(by_handle[handle] for handle in deleted)
    held.difference_update(deleted)
    result.moved += len(deleted)
    result.undeleted += len(by_handle) - len(deleted)
    if failure is not None:
        raise failure


def _start_move_task(sqs: "SQSClient", dlq_arn: str, queue_arn: str) -> str | None:
    """The task handle, or None when the endpoint has no StartMessageMoveTask (moto has none)."""
    try:
        return sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=queue_arn)["TaskHandle"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _UNSUPPORTED or status >= 500:
            print(
                f"StartMessageMoveTask unavailable here ({code}): moving by receive/send/delete",
                file=sys.stderr,
            )
            return None
        raise


def _send(
    sqs: "SQSClient", queue_url: str, messages: Sequence["MessageTypeDef"], fifo: bool
) -> Iterator[list[tuple["MessageTypeDef", str]]]:
    """Each call's confirmed messages with the ids the queue gave them, as each call returns.

    The body as it was, without the dead-letter attributes.
    """
    entries: list[SendMessageBatchRequestEntryTypeDef] = []
    for index, message in enumerate(messages):
        attributes = {
            name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
            for name, value in message.get("MessageAttributes", {}).items()
            if name not in DEAD_LETTER_ATTRIBUTES
        }
        entry: SendMessageBatchRequestEntryTypeDef = {"Id": str(index), "MessageBody": message["Body"]}
        if attributes:
            entry["MessageAttributes"] = attributes  # type: ignore[typeddict-item]
        if fifo:
            group = message.get("Attributes", {}).get("MessageGroupId", "redriven")
            entry["MessageGroupId"] = group
            # The DLQ's id: a redrive run again within SQS's 5-minute window is deduplicated.
            entry["MessageDeduplicationId"] = message["MessageId"]
        entries.append(entry)
    # As the forwarder sends dead letters: ten at most, and no more bytes than SQS takes in one call.
    for chunk in chunks(entries, [entry_bytes(entry) for entry in entries]):
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=[entries[n] for n in chunk])
        for failure in response.get("Failed", []):
            print(f"not sent: {failure['Id']} {failure['Code']}", file=sys.stderr)
        yield [(messages[int(entry["Id"])], entry["MessageId"]) for entry in response.get("Successful", [])]
