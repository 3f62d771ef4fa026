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
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import boto3
from botocore.config import Config

from ops import cli, validate
from ops.cli import CLIENT_CONFIG
from ops.dlq.letters import Queues, by_reason, look, print_by_reason, unexamined
from ops.dlq.move import Journal, redrive
from ops.samconfig import SamConfig

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


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
    report_args.add_argument("--ids", type=int, help="show at most this many ids per reason (default: all)")
    report_args.add_argument("--json", action="store_true", help="reason → message ids, as JSON")
    redrive_args = commands.add_parser(
        "redrive", help="send dead letters back to the conversions queue", formatter_class=cli.HelpFormatter
    )
    redrive_args.add_argument(
        "--reason", help="only dead letters with exactly this reason (as report prints it)"
    )
    redrive_args.add_argument(
        "--max", type=int, dest="limit", help="move at most this many (default: every letter)"
    )
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
