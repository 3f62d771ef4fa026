"""`make dlq ARGS=...`: the dead-letter queue, for the people who run the forwarder.

    python -m ops.dlq --stack rokt-event-forwarder report
    python -m ops.dlq --stack rokt-event-forwarder redrive [--reason "REASON"] [--dry-run]
    python -m ops.dlq validate conversions.jsonl     (the same as python -m ops.validate)

report   dead letters counted by reason, with their message ids; never a body. It only looks: each
         message is visible again at once.
redrive  send dead letters back to the conversions queue: all of them with SQS's StartMessageMoveTask
         where the service offers it, else (or with --reason) by receive, send, then delete, in one
         pass over what the DLQ held when it started: a message is deleted from the DLQ only once the
         queue has it, so none is lost, and one sent but not yet deleted is noted in a journal, so the
         next run deletes it without sending it again: none is duplicated. It prints a line of
         progress every 100 letters moved (PROGRESS_EVERY); Ctrl-C stops it once the letters in hand are
         in one queue.
validate check a JSON Lines file of message bodies offline (ops/validate.py, its own command too).

Queues are named by --stack (its outputs QueueUrl and DeadLetterQueueUrl; default: samconfig.toml's
stack for --config-env, so `make dlq ENV=prod` means the production stack) or by --queue-url and
--dlq-url. AWS credentials and endpoint come from boto3's usual settings (AWS_PROFILE, AWS_ENDPOINT_URL
for the local stack) or --endpoint-url; the region from --region, samconfig.toml or AWS_REGION.

Exit status (ops/cli.py): 0 done; 1 dead letters left that should have moved, or not reached; 2 no
region, no credentials, AWS refused, or the queues cannot be named; 130 interrupted.
"""

import argparse
import contextlib
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ops import cli, validate
from ops.cli import CLIENT_CONFIG
from ops.queues import (
    delete_messages,
    queue_arn,
    queue_depth,
    queue_depth_and_clock,
    receive_all,
    release,
)
from ops.samconfig import SamConfig
from rokt_forwarder.adapters.sqs import chunks, message_bytes
from rokt_forwarder.ports import REASON, SOURCE_MESSAGE_ID, SOURCE_QUEUE

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef, SendMessageBatchRequestEntryTypeDef

DEAD_LETTER_ATTRIBUTES = frozenset({REASON, SOURCE_MESSAGE_ID, SOURCE_QUEUE})
# What the report calls a dead letter that carries no reason; `redrive --reason` accepts it too.
SQS_REDRIVEN = "(no reason: SQS moved it after MaxReceiveCount failed receives)"
# How long a message received to be looked at or moved stays hidden from others.
HOLD_SECONDS = 120
# redrive prints a line of progress each time this many more letters are moved.
PROGRESS_EVERY = 100
# Error codes meaning "this endpoint has no StartMessageMoveTask" (moto answers a bare 500).
_UNSUPPORTED = frozenset({"UnsupportedOperation", "InvalidAction", "NotImplemented", "UnknownOperation"})


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
        _release(sqs, dlq_url, held)  # only now: released earlier, they would be received again
    return Look(letters, len(held))


def _release(sqs: "SQSClient", queue_url: str, receipt_handles: list[str]) -> None:
    """Best effort: what is not released comes back after HOLD_SECONDS anyway."""
    with contextlib.suppress(BotoCoreError, ClientError):
        release(sqs, queue_url, receipt_handles)


def unexamined(sqs: "SQSClient", dlq_url: str, examined: int) -> int:
    """Dead letters a run did not reach: held by another consumer, or behind a FIFO group it held.

    From the queue's approximate count, so a count that lags may report some that were reached.
    """
    return max(queue_depth(sqs, dlq_url) - examined, 0)


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
        _release(sqs, queues.dlq_url, list(held))  # only now: released earlier, they would come back
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
    for chunk in chunks(entries, [message_bytes(entry) for entry in entries]):
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=[entries[n] for n in chunk])
        for failure in response.get("Failed", []):
            print(f"not sent: {failure['Id']} {failure['Code']}", file=sys.stderr)
        yield [(messages[int(entry["Id"])], entry["MessageId"]) for entry in response.get("Successful", [])]


def resolve(args: argparse.Namespace, session: boto3.session.Session) -> Queues:
    if args.queue_url and args.dlq_url:
        return Queues(args.queue_url, args.dlq_url)
    if not args.stack:
        raise cli.Stop("name the queues: --stack NAME, or --queue-url and --dlq-url")
    cloudformation = session.client("cloudformation", endpoint_url=args.endpoint_url, config=CLIENT_CONFIG)
    (stack,) = cloudformation.describe_stacks(StackName=args.stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = {"QueueUrl", "DeadLetterQueueUrl"} - set(outputs)
    if missing:
        raise cli.Stop(f"stack {args.stack} has no output {', '.join(sorted(missing))}")
    return Queues(args.queue_url or outputs["QueueUrl"], args.dlq_url or outputs["DeadLetterQueueUrl"])


def _sqs(session: boto3.session.Session, endpoint_url: str | None, retries: int | None = None) -> "SQSClient":
    config = CLIENT_CONFIG
    if retries is not None:
        config = config.merge(Config(retries={"mode": "standard", "total_max_attempts": retries}))
    return session.client("sqs", endpoint_url=endpoint_url, config=config)


@cli.entry
def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    parser = cli.tool_parser("make dlq ARGS=...", __doc__)
    parser.add_argument("--stack", help="stack whose outputs name the queues (default: samconfig.toml's)")
    parser.add_argument("--queue-url", help="the conversions queue (overrides the stack's)")
    parser.add_argument("--dlq-url", help="the dead-letter queue (overrides the stack's)")
    cli.add_region(parser)
    parser.add_argument("--endpoint-url", help="AWS endpoint, e.g. the local stack's http://127.0.0.1:5000")
    commands = parser.add_subparsers(dest="command", required=True)
    report_args = commands.add_parser(
        "report", help="dead letters counted by reason, with message ids", formatter_class=cli.HelpFormatter
    )
    report_args.add_argument("--ids", type=int, help="show at most this many ids per reason")
    report_args.add_argument("--json", action="store_true", help="reason → message ids, as JSON")
    redrive_args = commands.add_parser(
        "redrive", help="send dead letters back to the conversions queue", formatter_class=cli.HelpFormatter
    )
    redrive_args.add_argument(
        "--reason", help="only dead letters with exactly this reason (as report prints it)"
    )
    redrive_args.add_argument("--max", type=int, dest="limit", help="move at most this many")
    redrive_args.add_argument("--dry-run", action="store_true", help="count what would move; move nothing")
    redrive_args.add_argument(
        "--journal",
        type=Path,
        help="where a run notes letters sent but not yet deleted (default: one per DLQ in ~/.cache)",
    )
    validate_args = commands.add_parser(
        "validate",
        help="check a JSON Lines file of message bodies offline (python -m ops.validate)",
        formatter_class=cli.HelpFormatter,
    )
    validate.add_arguments(validate_args)
    args = parser.parse_args(argv)
    if args.command == "validate":
        return validate.run(args, out)
    config = SamConfig.load(args.config_env)
    args.stack = args.stack or config.stack_name
    return _on_queues(args, cli.session(config, args.region), out)


def _on_queues(args: argparse.Namespace, session: boto3.session.Session, out: IO[str]) -> int:
    queues = resolve(args, session)
    sqs = _sqs(session, args.endpoint_url)
    if args.command == "report":
        seen = look(sqs, queues.dlq_url)
        missed = unexamined(sqs, queues.dlq_url, seen.examined)
        if args.json:
            json.dump(by_reason(seen.letters), out, indent=2)
            print(file=out)
        else:
            print(f"{queues.dlq_url}: {seen.examined + missed} messages", file=out)
            print_by_reason(seen.letters, out, ids=args.ids)
        return _unreached(missed, "report")
    # One attempt: an endpoint without StartMessageMoveTask must not be retried into a long wait.
    once = _sqs(session, args.endpoint_url, retries=1)
    journal = Journal(args.journal) if args.journal else Journal.for_queue(queues.dlq_url)
    moved = redrive(
        sqs,
        queues,
        journal=journal,
        reason=args.reason,
        limit=args.limit,
        dry_run=args.dry_run,
        move_task_client=once,
        progress=lambda so_far: print(
            f"  {'would move' if args.dry_run else 'moved'} {so_far.moved} so far "
            f"(of about {so_far.at_start} in the DLQ at the start)",
            file=sys.stderr,
            flush=True,
        ),
    )
    if moved.task:
        print(f"SQS is moving the dead letters to {queues.queue_url} (task {moved.task});", file=out)
        print("follow it with: aws sqs list-message-move-tasks --source-arn <DeadLetterQueueArn>", file=out)
        return cli.OK
    verb = "would move" if args.dry_run else "moved"
    print(f"{verb} {moved.moved} to {queues.queue_url}; left {moved.skipped} not selected", file=out)
    if moved.later:
        print(
            f"{moved.later} reached the DLQ after the run started (new, or moved and refused again): "
            "left for the next run",
            file=out,
        )
    if moved.unsent:
        print(f"{moved.unsent} could not be sent and are still in the DLQ", file=out)
    if moved.undeleted:
        print(
            f"{moved.undeleted} were sent but are still in the DLQ too: the next redrive deletes them "
            f"there without sending them again (noted in {journal.path})",
            file=out,
        )
    if moved.interrupted:  # after the counts: each letter handled so far is in one queue
        raise KeyboardInterrupt
    if moved.error:
        print(f"ERROR: stopped early: {moved.error}", file=sys.stderr)
        return cli.CANNOT
    missed = _unreached(moved.unreached, "redrive")
    return cli.PROBLEM if moved.unsent or moved.undeleted or missed else cli.OK


def _unreached(missed: int, command: str) -> int:
    """Say so when a run did not reach every dead letter; 1 then, as the exit status."""
    if missed:
        print(
            f"{missed} dead letters were not reached (held by another consumer, or behind a FIFO "
            f"group's held letters): run {command} again",
            file=sys.stderr,
        )
    return cli.PROBLEM if missed else cli.OK


if __name__ == "__main__":
    sys.exit(main())
