"""One invocation: every SQS record gets exactly one outcome, and SQS learns which ones failed.

    record → envelope → message → batch → requests → delivery → outcome → partial-batch response

Words, each used for one thing across the package:

SQS event   one invocation's input: the records Lambda polled together (AWS calls it a batch).
record      one SQS message as Lambda hands it over; its messageId names it everywhere.
message     the conversion a record's body carries, out of its SNS or EventBridge envelope.
batch       the Event API's unit, one user's events, built from one message.
request     one POST: a lone batch to /events, or up to 100 to /bulkevents.
delivered   the API accepted the batch.
refused     the batch can never be accepted, by our rules or the API's: the record is dead-lettered.
violation   one broken rule, as a field path and the rule (rules.Violation); our refusals' reasons list them.
failed      not delivered now: reported in batchItemFailures, so SQS delivers the record again later.
skipped     a producer's event that its mapping does not count as a conversion: done, not sent.
retry       post a request again within this invocation (the send loop, after a backoff).
reason      why a record was refused, failed or skipped: field paths, rule names, statuses, never a value.
deadline    when Lambda stops the invocation; every wait and call ends before it.
credentials the Event API key/secret: loaded from their secret once, reloaded past any cache after a 401/403.
limit       the account's rate limit in batches per second, which every sender draws on.
concurrency how many containers share the limit: the SQS trigger's MaximumConcurrency (ROKT_CONCURRENCY).
rate        this container's batches per second, learnt from the API's answers (pacing.Rate).
share       a part of the limit: a container's fair share (limit / concurrency, less headroom), and what
            one request may carry of the rate (pacing.Share).
"""

import random
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from aws_lambda_powertools import Logger

from rokt_forwarder import __version__, outcome
from rokt_forwarder.batch import prepare
from rokt_forwarder.config import Settings
from rokt_forwarder.delivery import Delivery
from rokt_forwarder.errors import RefusedError, SkippedError
from rokt_forwarder.fifo import Waves
from rokt_forwarder.mapping import NO_MAPPINGS, Mappings
from rokt_forwarder.outage import FAILURES_TO_OPEN, Outage
from rokt_forwarder.outcome import (
    NOT_SETTLED,
    DeadLettered,
    Delivered,
    Failed,
    Outcome,
    Refused,
    Result,
    Skipped,
)
from rokt_forwarder.pacing import Pacer
from rokt_forwarder.ports import (
    Clock,
    DeadLetter,
    DeadLetterQueue,
    Delay,
    LambdaContext,
    Publish,
    SystemClock,
    TimeLeft,
    Transport,
    VisibilityTimeouts,
)
from rokt_forwarder.reasons import clip
from rokt_forwarder.record import Record

logger = Logger(child=True)
FIFO_BLOCKED = "an earlier message of its FIFO group was not delivered"
NOT_PREPARED = Failed("Lambda deadline reached before the record was prepared")
# A record with this SQS message attribute (any value) has its outcome logged by messageId in the
# "invocation done" line, under "traced": how `make send-test` follows its conversions. Bounded.
MAX_TRACED = 10

# A record ready to send is its batch's wire bytes; one that is not has its result already.
type Prepared = bytes | Refused | Failed | Skipped


@dataclass
class Forwarder:
    """The invocation with its edges (API, SQS, clock) passed in, so tests choose them."""

    settings: Settings
    transport: Transport
    dead_letters: DeadLetterQueue
    visibility: VisibilityTimeouts
    clock: Clock = field(default_factory=SystemClock)
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000
    rng: random.Random = field(default_factory=random.Random)
    # Shared by every invocation of the container; None: no pacing (tests of other things).
    pacer: Pacer | None = None
    outage: Outage | None = None  # shared by the container's invocations too: fail fast while down
    # Stop sending this long before Lambda's deadline: dead-lettering and the response still need time.
    safety_margin: float = 5.0
    metrics: Publish | None = None  # adapters.metrics.publish when deployed; tests may leave it out
    # Producers' own events (Shopify, Stripe, a user's mapping): adapters.producers.load() when deployed.
    mappings: Mappings = NO_MAPPINGS

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """The partial-batch response for an SQS event; never raises once the event has records.

        Each record ends delivered, dead-lettered with its reason, or failed (reported, with its
        visibility set for a backed-off retry). Sending stops `safety_margin` seconds before the
        deadline so the DLQ and visibility calls and the response still fit. A bug fails only the
        records it left without an outcome: what was delivered stays delivered.
        """
        remaining = context.get_remaining_time_in_millis() / 1000
        lambda_deadline = self.clock.monotonic() + remaining
        deadline = lambda_deadline - min(self.safety_margin, remaining * 0.2)

        def time_left() -> float:
            return lambda_deadline - self.clock.monotonic()

        def sending_time_left() -> float:
            return deadline - self.clock.monotonic()

        delivery = Delivery(
            self.transport,
            clock=self.clock,
            deadline=deadline,
            request_timeout=self.settings.request_timeout,
            rng=self.rng,
            pacer=self.pacer,
            outage=self.outage,
        )
        # SQS may deliver a record twice, even within one SQS event: each messageId is settled once, in the
        # place it first had, with the latest receipt handle (the one SQS honours).
        records = list({record.message_id: record for record in map(Record.of, event["Records"])}.values())
        outcomes: dict[str, Outcome] = {}
        try:
            self._settle(records, delivery, outcomes, time_left, sending_time_left)
        except Exception as error:
            # Type and place only: an exception's message may quote a record's data.
            where = traceback.extract_tb(error.__traceback__)[-1]
            logger.error(
                "invocation failed; records without an outcome are reported failed",
                extra={
                    "error": type(error).__name__,
                    "at": f"{where.filename}:{where.lineno} in {where.name}",
                },
            )
        for record in records:
            outcomes.setdefault(record.message_id, NOT_SETTLED)
        self._retry_or_give_up(records, outcomes, time_left)
        traced = [r.message_id for r in records if r.traced][:MAX_TRACED]
        logger.info(
            "invocation done",
            extra={
                **({"traced": {mid: outcome.describe(outcomes[mid]) for mid in traced}} if traced else {}),
                "version": __version__,
                "records": len(records),
                "duplicates": len(event["Records"]) - len(records),
                **outcome.summary(outcomes.values()),
                "requests": delivery.stats.requests,
                "retries": delivery.stats.retries,
                "throttled": delivery.stats.throttled,
                "splits": delivery.stats.splits,
                "paced_seconds": round(delivery.stats.paced_seconds, 3),
                "retry_wait_seconds": round(delivery.stats.waited_seconds, 3),
                "pacing_rate": round(self.pacer.rate, 1) if self.pacer else None,
                "api_down": delivery.stats.api_down,
                "api_status": delivery.stats.by_status,
            },
        )
        if (
            delivery.stats.outage_began
        ):  # once per outage of this container: the "invocation done" lines repeat
            logger.warning(
                "Event API down: each invocation now sends one probe and fails the rest until it answers",
                extra={
                    "host": self.settings.api_host,
                    "reason": delivery.stats.outage_began,
                    "failures_in_a_row": FAILURES_TO_OPEN,
                },
            )
        if delivery.stats.credentials_failure:  # the reason names the secret or the status, never a value
            logger.error("Event API credentials failed", extra={"reason": delivery.stats.credentials_failure})
        if self.metrics:
            self.metrics(records, outcomes.values(), delivery.stats, self.now_ms())
        return outcome.response([r.message_id for r in records], outcomes)

    def _settle(
        self,
        records: Sequence[Record],
        delivery: Delivery,
        outcomes: dict[str, Outcome],
        time_left: TimeLeft,
        preparing_time_left: TimeLeft,
    ) -> None:
        """Give every record an outcome, wave by wave (fifo.py): a failure closes its FIFO group."""
        now_ms = self.now_ms()
        prepared = [self._prepare(record, now_ms, preparing_time_left) for record in records]
        fifo = bool(records) and records[0].queue_arn.endswith(".fifo")
        waves = Waves([r.group_id if fifo else n for n, r in enumerate(records)])
        while wave := waves.next():
            bodies = {n: body for n in wave if isinstance(body := prepared[n], bytes)}
            results: dict[int, Result] = {n: p for n in wave if not isinstance(p := prepared[n], bytes)}
            results.update(zip(bodies, delivery.deliver(list(bodies.values())), strict=True))
            for n, record_outcome in self._dead_letter(records, results, time_left).items():
                outcomes[records[n].message_id] = record_outcome
                if isinstance(record_outcome, Failed):
                    for blocked in waves.close(n):
                        outcomes[records[blocked].message_id] = Failed(FIFO_BLOCKED)

    def _prepare(self, record: Record, now_ms: int, time_left: TimeLeft) -> Prepared:
        """A refused message gets its reason; a bug (not the message's fault) fails only its record.

        Preparing shares the deadline: a record reached when no time is left to send it is failed
        unprepared, so no input can hold the invocation past its deadline.
        """
        if time_left() <= 0:
            return NOT_PREPARED
        try:
            return prepare(
                record.body,
                environment=self.settings.environment,
                hash_pii=self.settings.hash_pii,
                now_ms=now_ms,
                mappings=self.mappings,
                data_plan=self.settings.data_plan,
            )
        except RefusedError as error:
            return Refused(error.reason)
        except SkippedError as error:
            return Skipped(error.reason)
        except Exception as error:
            # The type only: an exception's message may quote the record's data.
            logger.warning(
                "record could not be prepared",
                extra={"messageId": record.message_id, "error": type(error).__name__},
            )
            return Failed(f"unexpected {type(error).__name__}")

    def _dead_letter(
        self, records: Sequence[Record], results: Mapping[int, Result], time_left: TimeLeft
    ) -> dict[int, Outcome]:
        """Each result as an outcome: refused records go to the DLQ, and fail if they cannot."""
        refused = {n: result.reason for n, result in results.items() if isinstance(result, Refused)}
        unsent: set[str] = set()
        if refused and self.settings.dlq_url:
            letters = [
                DeadLetter(
                    message_id=records[n].message_id,
                    body=records[n].body,
                    reason=reason,
                    source_queue_arn=records[n].queue_arn,
                    group_id=records[n].group_id,
                )
                for n, reason in refused.items()
            ]
            unsent = self.dead_letters.dead_letter(self.settings.dlq_url, letters, time_left)
        outcomes: dict[int, Outcome] = {}
        for n, result in results.items():
            match result:
                case Delivered() | Failed() | Skipped():
                    outcomes[n] = result
                case Refused(reason) if not self.settings.dlq_url:
                    outcomes[n] = Failed(f"invalid, no DLQ_URL: {reason}")
                case Refused(reason) if records[n].message_id in unsent:
                    outcomes[n] = Failed(f"DLQ send failed: {reason}")
                case Refused(reason):
                    outcomes[n] = DeadLettered(reason)
                case _:
                    assert_never(result)
        return outcomes

    def _retry_or_give_up(
        self, records: Sequence[Record], outcomes: dict[str, Outcome], time_left: TimeLeft
    ) -> None:
        """Each failed record comes back after its backoff, unless this was its last chance
        (outcome.last_chance): then it goes to the DLQ now, with the reason it kept failing for.
        """
        now_ms = self.now_ms()
        delays: list[Delay] = []
        last: dict[int, str] = {}
        for n, record in enumerate(records):
            failed = outcomes[record.message_id]
            if not isinstance(failed, Failed):
                continue
            seconds = outcome.retry_delay(record.receive_count, failed.retry_after, self.rng)
            age = (now_ms - record.sent_ms) / 1000 if record.sent_ms is not None else None
            why = outcome.last_chance(record.receive_count, self.settings.max_receive_count, age, seconds)
            if why is not None and self.settings.dlq_url:
                last[n] = clip(f"{why}: {failed.reason}")
            else:
                delays.append(Delay(record.message_id, record.receipt_handle, record.queue_arn, seconds))
        if last:
            given_up = self._dead_letter(records, {n: Refused(why) for n, why in last.items()}, time_left)
            for n, record_outcome in given_up.items():
                outcomes[records[n].message_id] = record_outcome
        if delays:
            self.visibility.delay(delays, time_left)
