"""`make demo`: conversions through SQS, the real handler and the Event API, with faults, end to end.

Everything is embedded (moto server, the sandbox), so it runs offline on a fresh clone. A message
counts as delivered only if the sandbox accepted its batch. Exit status 0 only if every valid message
was delivered and exactly the invalid ones were dead-lettered. For a real account and pod, use
`make check-credentials` and `make send-test` (a few test conversions, not a thousand).
"""

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devstack.embedded_aws import EmbeddedAws
from devstack.function import containers
from devstack.runner import EventSourceMapping, MappingStats
from devstack.sandbox import Sandbox, SandboxConfig, parse_outage
from devstack.template import StackSettings
from devstack.traffic import Message, generate
from ops import cli
from ops.dlq import message_id_of, print_by_reason, reason_of
from ops.queues import MAX_MESSAGES_PER_CALL, drain, queue_depth, wait_until_drained
from rokt_forwarder.adapters import producers
from rokt_forwarder.batch import prepare

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENT = "development"  # the function's ROKT_ENVIRONMENT: demo data is test data
API_KEY, API_SECRET = "demo-key", "demo-secret"
# Faults a real API shows now and then; the chaos test turns them up.
DEMO_FAULTS = {"p429": 0.03, "p503": 0.03, "p500": 0.02, "p_reset": 0.02, "p_slow": 0.02, "slow_seconds": 2.0}


@dataclass(frozen=True)
class Options:
    messages: int = 1000
    invalid_ratio: float = 0.05
    seed: int = 7
    faults: dict[str, Any] = field(default_factory=lambda: dict(DEMO_FAULTS))
    outages: tuple[tuple[float, float], ...] = ()
    drain_timeout: float = 600.0
    template: Path = ROOT / "template.yaml"
    progress: bool = True
    backlog: int = 500
    time_scale: float = 1.0  # SQS's visibility timeouts pass this many times faster (EmbeddedAws)
    sandbox: dict[str, Any] = field(default_factory=dict)  # more SandboxConfig settings (rate, usage)
    env: dict[str, str] = field(default_factory=dict)  # more settings for the function


@dataclass
class Report:
    sent: int
    valid: int  # conversions: each must be delivered
    invalid: int
    delivered: int
    undelivered: list[str]
    dead_lettered: dict[str, str]  # message id → reason
    unexpected_dead_letters: list[str]
    missing_dead_letters: list[str]
    skipped: int  # Shopify and Stripe events that are not conversions: neither sent nor dead-lettered
    unexpected_deliveries: list[str]  # such events the API received all the same
    left_in_queues: int
    mapping: MappingStats
    api: dict[str, Any] | None
    seconds: float

    @property
    def duplicate_rate(self) -> float:
        return float((self.api or {}).get("deduplicated", 0)) / max(self.delivered, 1)

    @property
    def ok(self) -> bool:
        return not (
            self.undelivered
            or self.unexpected_dead_letters
            or self.missing_dead_letters
            or self.unexpected_deliveries
            or self.left_in_queues
        )


@dataclass(frozen=True)
class Stack:
    sqs: "SQSClient"
    queue_url: str
    queue_arn: str
    dlq_url: str
    region: str
    env: dict[str, str]
    sandbox: Sandbox


def run(options: Options) -> Report:
    settings = StackSettings.from_template(options.template)
    messages = generate(
        options.messages, invalid_ratio=options.invalid_ratio, seed=options.seed, platforms=True
    )
    with _stack(options, settings) as stack, containers(ROOT, stack.env) as new_container:
        mapping = EventSourceMapping.from_settings(
            stack.sqs, stack.queue_url, stack.queue_arn, new_container, settings, region=stack.region
        )
        started = time.monotonic()
        producer = Producer(stack, messages, options.backlog)
        with mapping:
            producer.start()
            try:
                drained = _wait(stack, mapping, producer, started, options)
            finally:
                # After a timeout it may still be sending: `sent` is only safe to read once it is done.
                producer.stop()
        if producer.error:
            raise producer.error
        sent = producer.sent
        seconds = time.monotonic() - started

        def ours(message: "MessageTypeDef") -> bool:
            return message_id_of(message) in sent

        letters = {message_id_of(m): reason_of(m) for m in drain(stack.sqs, stack.dlq_url, wanted=ours)}
        left = queue_depth(stack.sqs, stack.queue_url) + (0 if drained else 1)
        accepted = _accepted_ids(stack.sandbox)
    skipped = {mid for mid, message in sent.items() if message.skipped}
    valid = {mid for mid, message in sent.items() if message.valid} - skipped
    invalid = set(sent) - valid - skipped
    # What the API accepted, never inferred from what is missing: each message by its batch's id.
    delivered = {mid for mid in valid if _source_request_id(sent[mid]) in accepted}
    return Report(
        sent=len(sent),
        valid=len(valid),
        invalid=len(invalid),
        delivered=len(delivered),
        undelivered=sorted(valid - delivered),
        dead_lettered={mid: reason for mid, reason in letters.items() if mid in invalid},
        unexpected_dead_letters=sorted(set(letters) - invalid),
        missing_dead_letters=sorted(invalid - set(letters)),
        skipped=len(skipped),
        unexpected_deliveries=sorted(skipped & accepted),
        left_in_queues=left,
        mapping=mapping.stats,
        api=stack.sandbox.stats(),
        seconds=seconds,
    )


@contextmanager
def _stack(options: Options, settings: StackSettings) -> Iterator[Stack]:
    with ExitStack() as stack:
        config = SandboxConfig(
            api_key=API_KEY,
            api_secret=API_SECRET,
            seed=options.seed,
            outages=options.outages,
            **options.faults,
            **options.sandbox,
        )
        sandbox = stack.enter_context(Sandbox(config))
        common = {
            "ROKT_ENVIRONMENT": ENVIRONMENT,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "ROKT_API_URL": sandbox.url,
            "POWERTOOLS_METRICS_DISABLED": "true",  # an EMF line per invocation would bury the report
            **options.env,
        }
        aws = stack.enter_context(EmbeddedAws(settings, API_KEY, API_SECRET, time_scale=options.time_scale))
        yield Stack(
            aws.client("sqs"),
            aws.queue_url,
            aws.queue_arn,
            aws.dlq_url,
            aws.region,
            {**aws.environment(), **common},
            sandbox,
        )


class Producer(threading.Thread):
    """Sends the messages in batches of ten while the consumer runs, as producers do.

    It pauses while the queue holds more than `backlog` messages: moto scans its whole queue on
    every call, so an unbounded backlog would measure moto, not the forwarder.
    """

    def __init__(self, stack: Stack, messages: Sequence[Message], backlog: int) -> None:
        super().__init__(name="producer", daemon=True)
        self.stack, self.messages, self.backlog = stack, messages, backlog
        self.sent: dict[str, Message] = {}
        self.error: BaseException | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            for start in range(0, len(self.messages), MAX_MESSAGES_PER_CALL):
                while queue_depth(self.stack.sqs, self.stack.queue_url, visible_only=True) > self.backlog:
                    if self._stopping.wait(0.1):
                        return
                if self._stopping.is_set():
                    return
                self._send(self.messages[start : start + MAX_MESSAGES_PER_CALL])
        except BaseException as error:  # reported by the main thread
            self.error = error

    def stop(self) -> None:
        """Stop after the batch in flight, so whatever SQS took is in `sent` and nothing more arrives."""
        self._stopping.set()
        self.join()

    def _send(self, chunk: Sequence[Message]) -> None:
        response = self.stack.sqs.send_message_batch(
            QueueUrl=self.stack.queue_url,
            Entries=[{"Id": str(n), "MessageBody": m.body} for n, m in enumerate(chunk)],
        )
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused {len(response['Failed'])} messages: {response['Failed'][0]}")
        self.sent.update({entry["MessageId"]: chunk[int(entry["Id"])] for entry in response["Successful"]})


def _wait(
    stack: Stack, mapping: EventSourceMapping, producer: Producer, started: float, options: Options
) -> bool:
    """Until all is sent and the queue stays empty, or the timeout; the producer counts as not empty."""
    total = len(producer.messages)

    def show(depth: int) -> None:
        unsent = total - len(producer.sent)
        _progress(stack, mapping.stats, total, depth + unsent, time.monotonic() - started)

    drained = wait_until_drained(
        stack.sqs,
        [stack.queue_url],
        timeout=max(0.0, started + options.drain_timeout - time.monotonic()),
        settle=2.0,
        interval=0.5,
        busy=producer.is_alive,
        on_tick=show if options.progress else None,
    )
    if options.progress:
        print(file=sys.stderr)
    return drained


def _progress(stack: Stack, stats: MappingStats, total: int, depth: int, seconds: float) -> None:
    done = total - depth
    width = 30
    bar = "#" * (width * done // max(total, 1))
    api = stack.sandbox.stats()
    line = (
        f"\r[{bar:<{width}}] {done}/{total} handled  in queue {depth:>5}  "
        f"invocations {stats.invocations}  retried {stats.records_retried}  "
        f"API accepted {api.get('batches_accepted', '-')}  {seconds:5.1f}s"
    )
    print(line, end="", file=sys.stderr, flush=True)


def _accepted_ids(sandbox: Sandbox) -> set[str]:
    return {str(b.get("source_request_id")) for b in sandbox.accepted_batches()}


_PRESETS = producers.presets()


def _source_request_id(message: Message) -> str:
    """The id of the batch the forwarder makes of a valid message (from its content: batch.py)."""
    now_ms = time.time_ns() // 1_000_000
    batch = prepare(message.body, environment=ENVIRONMENT, hash_pii=False, now_ms=now_ms, mappings=_PRESETS)
    return str(json.loads(batch)["source_request_id"])


def print_report(report: Report, out: Any = sys.stdout) -> None:
    retried = {n: c for n, c in report.mapping.receive_counts.items() if n > 1}
    invalid = f"{report.invalid} invalid"
    rows = [
        (
            "messages sent",
            f"{report.sent} ({report.valid} conversions, {report.skipped} other events, {invalid})",
        ),
        ("delivered", f"{report.delivered} of {report.valid} conversions"),
        (
            "skipped (not conversions)",
            f"{report.skipped - len(report.unexpected_deliveries)} of {report.skipped}",
        ),
        ("dead-lettered", f"{len(report.dead_lettered)} of {report.invalid} invalid"),
        ("retried", ", ".join(f"{c} received {n}x" for n, c in retried.items()) or "none"),
        (
            "invocations",
            f"{report.mapping.invocations} ({report.mapping.batches_failed} whole-batch failures)",
        ),
        ("time", f"{report.seconds:.1f} s ({report.sent / max(report.seconds, 1e-9):.0f} messages/s)"),
    ]
    if report.api is not None:
        faults = {k: v for k, v in report.api.get("faults", {}).items() if v}
        rows += [
            ("API requests", f"{report.api['requests']}  by status {json.dumps(report.api['by_status'])}"),
            ("API faults injected", json.dumps(faults) if faults else "none"),
            (
                "duplicates (deduplicated by the API)",
                f"{report.api['deduplicated']} ({report.duplicate_rate:.2%})",
            ),
        ]
    width = max(len(k) for k, _ in rows)
    print("\nSummary", file=out)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}", file=out)
    # The DLQ tool's report (make dlq ARGS=report), of the dead letters this run took from the DLQ.
    print(file=out)
    print_by_reason(report.dead_lettered, out, ids=3)
    problems = [
        ("valid but not delivered", report.undelivered),
        ("dead-lettered but valid", report.unexpected_dead_letters),
        ("invalid but not dead-lettered", report.missing_dead_letters),
        ("not a conversion but sent", report.unexpected_deliveries),
    ]
    for label, ids in problems:
        if ids:
            print(f"\nPROBLEM: {len(ids)} {label}: {', '.join(ids[:5])}", file=out)
    if report.left_in_queues:
        print("\nPROBLEM: the queue did not drain", file=out)
    verdict = "OK: every conversion delivered, only invalid messages dead-lettered" if report.ok else "FAILED"
    print(f"\n{verdict}", file=out)


@cli.interruptible  # Ctrl-C: "interrupted", 130, no traceback
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make demo DEMO_ARGS=...",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--messages", type=int, default=Options.messages)
    parser.add_argument("--invalid-ratio", type=float, default=Options.invalid_ratio)
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--no-faults", action="store_true", help="a well-behaved sandbox API")
    parser.add_argument(
        "--outage",
        action="append",
        default=[],
        type=parse_outage,
        metavar="START-END",
        help="sandbox answers 503 between these seconds (repeatable)",
    )
    parser.add_argument("--drain-timeout", type=float, default=Options.drain_timeout)
    args = parser.parse_args(argv)
    options = Options(
        messages=args.messages,
        invalid_ratio=args.invalid_ratio,
        seed=args.seed,
        faults={} if args.no_faults else dict(DEMO_FAULTS),
        outages=tuple(args.outage),
        drain_timeout=args.drain_timeout,
        progress=sys.stderr.isatty() or os.environ.get("DEMO_PROGRESS") == "1",
    )
    print(
        f"Sending {options.messages} conversions through embedded AWS (moto) to the Event API sandbox...",
        file=sys.stderr,
    )
    report = run(options)
    print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
