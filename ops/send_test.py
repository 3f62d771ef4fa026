"""`make send-test`: send a few test conversions to the deployed queue and follow each to its outcome.

Three conversions (flat, hashed email, EventBridge-shaped; `--with-invalid` adds one the forwarder
must dead-letter), each with a fresh timestamp and `"environment": "development"` (Rokt treats them as
test data whatever the stack's RoktEnvironment). `--shape shopify` sends a Shopify test order as
Shopify's EventBridge source delivers it, `--shape stripe` a test-mode Stripe checkout (both are
development data by the presets); `--shape` may be repeated. Each carries the SQS message attribute
`forwarder_trace`, so
the function logs each one's outcome by message id. Those log lines are read back from the function's
log group until every conversion is delivered or dead-lettered, or the timeout. Exit status 0 only if
each ended as expected: a delivery is reported only when the function logged it.

The queue and function come from the stack's outputs (`--stack-name`, default: samconfig.toml's for
`--config-env`), or from `--queue-url` with `--function-name`. AWS credentials and region are boto3's
usual ones (environment, profile); `--region` or the region samconfig.toml saved win.
"""

import hashlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

import boto3
from botocore.exceptions import ClientError

from devstack import platforms
from devstack.traffic import eventbridge_event
from ops import cli
from ops.cli import CLIENT_CONFIG
from ops.logs import log_group_name
from ops.samconfig import SamConfig
from rokt_forwarder.outcome import DeadLettered, Delivered, Failed, Skipped
from rokt_forwarder.record import TRACE_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sqs import SQSClient

TEST_EMAIL = "send-test@example.com"  # example.com is reserved for examples: nobody's address
DEFAULT_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 2.0
# Log timestamps come from AWS's clocks, not ours: look back a little before the first send.
CLOCK_SKEW_MS = 60_000
FINAL = frozenset({Delivered.status, DeadLettered.status, Skipped.status})
SHAPES = ("flat", "shopify", "stripe")


class TargetError(Exception):
    """The stack or queue cannot be found or used; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Target:
    queue_url: str
    function_name: str
    described: str  # for the user: which stack, or which queue

    @property
    def log_group(self) -> str:
        return log_group_name(self.function_name)


@dataclass(frozen=True, slots=True)
class Sample:
    kind: str
    body: str
    expected: str  # the outcome status it must end with


@dataclass(slots=True)
class Followed:
    sample: Sample
    message_id: str
    seen: list[str]  # every outcome logged for it, oldest first ("failed: …" may precede the last)

    @property
    def last(self) -> str | None:
        return self.seen[-1] if self.seen else None

    @property
    def final(self) -> bool:
        return self.last is not None and status(self.last) in FINAL

    @property
    def ok(self) -> bool:
        return self.last is not None and status(self.last) == self.sample.expected


def status(outcome: str) -> str:
    return outcome.partition(":")[0]


def stack_target(cfn: "CloudFormationClient", stack_name: str, region: str) -> Target:
    try:
        (stack,) = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            raise TargetError(
                f"no stack {stack_name} in {region}: deploy it first (make deploy), or pass "
                "--stack-name / --region / --config-env"
            ) from None
        raise
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    missing = {"QueueUrl", "FunctionName"} - set(outputs)
    if missing:
        raise TargetError(
            f"stack {stack_name} ({stack['StackStatus']}) has no output {', '.join(sorted(missing))}: "
            "is it a rokt-event-forwarder stack, and has its deployment finished?"
        )
    return Target(outputs["QueueUrl"], outputs["FunctionName"], f"stack {stack_name} ({region})")


def samples(
    run: str, now: datetime, *, with_invalid: bool = False, shapes: Sequence[str] = ("flat",)
) -> list[Sample]:
    """The test conversions of one run; `run` makes their transaction ids (Rokt's dedup keys) unique."""

    def conversion(n: int) -> dict[str, Any]:
        return {
            "customerid": f"send-test-{run}",
            "amount": "1.00",
            "currency": "USD",
            "quantity": 1,
            "conversiontype": "send-test",
            "productname": "rokt-event-forwarder send-test",
            "transactionid": f"send-test-{run}-{n}",
            "confirmationref": f"send-test-{run}-{n}",
            "environment": "development",
            "timestamp": now.isoformat(timespec="seconds"),
        }

    found = []
    if "flat" in shapes:
        hashed = hashlib.sha256(TEST_EMAIL.encode()).hexdigest()
        event = eventbridge_event(
            {**conversion(3), "email": TEST_EMAIL},
            str(uuid.uuid4()),
            source="rokt-event-forwarder.send-test",
            time=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        found += [
            Sample("flat", json.dumps({**conversion(1), "email": TEST_EMAIL}), Delivered.status),
            Sample("hashed email", json.dumps({**conversion(2), "other": hashed}), Delivered.status),
            Sample("EventBridge", json.dumps(event), Delivered.status),
        ]
    if "shopify" in shapes:
        found.append(Sample("Shopify test order", json.dumps(shopify_test_order(run, now)), Delivered.status))
    if "stripe" in shapes:
        found.append(
            Sample("Stripe test checkout", json.dumps(stripe_test_checkout(run, now)), Delivered.status)
        )
    if with_invalid:
        invalid = {**conversion(4), "email": "send-test.at.example.com"}
        found.append(Sample("invalid (bad email)", json.dumps(invalid), DeadLettered.status))
    return found


def shopify_test_order(run: str, now: datetime) -> dict[str, Any]:
    """A Shopify test order (X-Shopify-Test, test: true) of one 1.00 USD item, from the send-test address."""
    item = platforms.shopify_line_item("rokt-event-forwarder send-test", "1.00", 1, "SEND-TEST")
    sample = platforms.example("shopify-orders-create")["detail"]["payload"]
    order = {
        "id": int(run, 16),  # the order id is the conversion's transactionid: one per run
        "email": TEST_EMAIL,
        "contact_email": TEST_EMAIL,
        "name": f"#send-test-{run}",
        "confirmation_number": f"send-test-{run}-shopify",
        "total_price": "1.00",
        "line_items": [item],
        "customer": {**sample["customer"], "email": TEST_EMAIL, "first_name": "Send", "last_name": "Test"},
        "billing_address": {**sample["billing_address"], "phone": None},  # no made-up phone number
    }
    return platforms.shopify_order_event(now, test=True, order=order)


def stripe_test_checkout(run: str, now: datetime) -> dict[str, Any]:
    """A test-mode (livemode false) Checkout Session of 1.00 USD, paid, by the send-test address."""
    details = platforms.example("stripe-checkout-session-completed")["detail"]["data"]["object"][
        "customer_details"
    ]
    session = {
        "id": f"cs_test_send_test_{run}",
        "amount_subtotal": 100,
        "amount_total": 100,
        "currency": "usd",
        "client_reference_id": f"send-test-{run}",
        "customer_details": {**details, "email": TEST_EMAIL, "name": "Send Test"},
        "payment_intent": f"pi_send_test_{run}",
    }
    return platforms.stripe_event(now, changes=session)


def send(sqs: "SQSClient", queue_url: str, sample: Sample, run: str) -> str:
    fifo: dict[str, str] = {}
    if queue_url.endswith(".fifo"):
        fifo = {"MessageGroupId": f"send-test-{run}", "MessageDeduplicationId": str(uuid.uuid4())}
    return sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=sample.body,
        MessageAttributes={TRACE_ATTRIBUTE: {"DataType": "String", "StringValue": f"send-test {run}"}},
        **fifo,  # type: ignore[arg-type]
    )["MessageId"]


def traced_outcomes(
    logs: "CloudWatchLogsClient", log_group: str, since_ms: int
) -> Iterator[tuple[str, str, str]]:
    """(log event id, message id, outcome) for each traced record the function logged, oldest first."""
    token: str | None = None
    while True:
        page = logs.filter_log_events(
            logGroupName=log_group,
            startTime=since_ms,
            filterPattern='"traced"',
            **({"nextToken": token} if token else {}),  # type: ignore[arg-type]
        )
        for event in page.get("events", []):
            try:
                line = json.loads(event.get("message", ""))
            except ValueError:
                continue
            traced = line.get("traced") if isinstance(line, dict) else None
            if isinstance(traced, dict):
                for message_id, outcome in traced.items():
                    yield event.get("eventId", ""), str(message_id), str(outcome)
        token = page.get("nextToken")
        if not token:
            return


def follow(
    logs: "CloudWatchLogsClient",
    log_group: str,
    followed: Collection[Followed],
    *,
    since_ms: int,
    timeout: float,
    on_outcome: Callable[[Followed], None] = lambda _: None,
) -> None:
    """Read the function's traced outcomes until every message has a final one, or the timeout."""
    by_id = {f.message_id: f for f in followed}
    read: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        try:
            lines = list(traced_outcomes(logs, log_group, since_ms))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            lines = []  # the log group appears with the function's first log line
        for event_id, message_id, outcome in lines:
            key = f"{event_id}/{message_id}"
            if message_id in by_id and key not in read:
                read.add(key)
                by_id[message_id].seen.append(outcome)
                on_outcome(by_id[message_id])
        if all(f.final for f in followed) or time.monotonic() >= deadline:
            return
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def run(
    session: boto3.Session,
    target: Target,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    with_invalid: bool = False,
    shapes: Sequence[str] = ("flat",),
    out: TextIO | None = None,
) -> list[Followed]:
    """Send the samples and follow them; prints one line per event (to stdout unless `out`)."""
    out = out or sys.stdout
    run_id = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    since_ms = time.time_ns() // 1_000_000 - CLOCK_SKEW_MS
    sqs, logs = session.client("sqs", config=CLIENT_CONFIG), session.client("logs", config=CLIENT_CONFIG)
    width = 22
    print(f"Sending test conversions to {target.described}: {target.queue_url}", file=out)
    followed = []
    for sample in samples(run_id, now, with_invalid=with_invalid, shapes=shapes):
        message_id = send(sqs, target.queue_url, sample, run_id)
        followed.append(Followed(sample, message_id, []))
        print(f"  {sample.kind:<{width}} {message_id}  sent", file=out)
    print(
        f"Following them in {target.log_group} (up to {timeout:.0f} s; Ctrl-C stops)...", file=out, flush=True
    )

    def show(item: Followed) -> None:
        outcome = item.last or ""
        then = ""
        if status(outcome) == Failed.status:
            then = "  (SQS delivers it again after a backoff; waiting)"
        print(f"  {item.sample.kind:<{width}} {item.message_id}  {outcome}{then}", file=out, flush=True)

    # Ctrl-C ends the run here: "interrupted" (cli.entry), not a verdict on outcomes it stopped waiting for.
    follow(logs, target.log_group, followed, since_ms=since_ms, timeout=timeout, on_outcome=show)
    print(file=out)
    for item in followed:
        if not item.ok:
            seen = (
                f"last logged outcome: {item.last}"
                if item.last
                else f"no outcome logged within {timeout:.0f} s"
            )
            print(
                f"PROBLEM: {item.sample.kind} ({item.message_id}) expected {item.sample.expected}; {seen}",
                file=out,
            )
    if not any(item.seen for item in followed):
        print(
            "No outcome was logged: check that the function consumes this queue and runs (make logs).",
            file=out,
        )
    good = sum(item.ok for item in followed)
    verdict = "OK" if good == len(followed) else "FAILED"
    print(f"{verdict}: {good} of {len(followed)} test conversions ended as expected", file=out)
    return followed


@cli.entry
def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.tool_parser("make send-test ARGS=...", __doc__)
    parser.add_argument("--stack-name", help="the deployed stack (default: samconfig.toml's)")
    parser.add_argument("--queue-url", help="send here instead of a stack's queue (needs --function-name)")
    parser.add_argument("--function-name", help="the function consuming --queue-url")
    cli.add_region(parser)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds to follow")
    parser.add_argument(
        "--with-invalid",
        action="store_true",
        help="also send one invalid conversion, to see it dead-lettered",
    )
    parser.add_argument(
        "--shape",
        action="append",
        choices=SHAPES,
        help="flat (the default: flat, hashed email, EventBridge), shopify (a Shopify test order from "
        "Shopify's EventBridge source), stripe (a test-mode Stripe checkout); repeat for more",
    )
    args = parser.parse_args(argv)
    if bool(args.queue_url) != bool(args.function_name):
        parser.error("--queue-url and --function-name go together")
    config = SamConfig.load(args.config_env)
    session = cli.session(config, args.region)
    region = session.region_name or ""  # cli.session made sure of one
    try:
        if args.queue_url:
            target = Target(args.queue_url, args.function_name, f"queue ({region})")
        else:
            stack_name = args.stack_name or config.stack_name
            if not stack_name:
                parser.error(
                    f"no stack name: pass --stack-name (samconfig.toml's {args.config_env} has none)"
                )
            cfn = session.client("cloudformation", config=CLIENT_CONFIG)
            target = stack_target(cfn, stack_name, region)
        followed = run(
            session,
            target,
            timeout=args.timeout,
            with_invalid=args.with_invalid,
            shapes=args.shape or ["flat"],
        )
    except TargetError as error:
        raise cli.Stop(str(error)) from None
    return cli.OK if all(item.ok for item in followed) else cli.PROBLEM


if __name__ == "__main__":
    sys.exit(main())
