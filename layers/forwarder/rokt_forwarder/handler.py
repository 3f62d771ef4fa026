"""One invocation: a message's way from SQS record to partial-batch response.

record → envelope → message → batch (validated) → packed requests → delivery → outcome → response.
"""

import random
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from rokt_forwarder import outcome, sqs
from rokt_forwarder.batch import build
from rokt_forwarder.config import Settings
from rokt_forwarder.delivery import Clock, Delivered, Delivery, Failed, Refused, Transport
from rokt_forwarder.envelope import MessageError, unwrap
from rokt_forwarder.message import parse_message
from rokt_forwarder.outcome import DELIVERED, Outcome, Status

logger = Logger(child=True)
FIFO_BLOCKED = "an earlier message of its FIFO group was not delivered"


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Prepared:
    record: SQSRecord
    body: bytes


@dataclass(frozen=True, slots=True)
class Invalid:
    record: SQSRecord
    reason: str


@dataclass(frozen=True, slots=True)
class Broken:
    """Preparing the record raised: a bug, not the message's fault, so it is retried."""

    record: SQSRecord
    error: str


Item = Prepared | Invalid | Broken


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class Forwarder:
    """The delivery path with its edges (API, SQS, clocks) passed in, so tests choose them."""

    settings: Settings
    transport: Transport
    dead_letter: Callable[[str, Sequence[sqs.DeadLetter], sqs.TimeLeft], set[str]]
    delay: Callable[[Sequence[sqs.Delay], sqs.TimeLeft], None]
    clock: Clock = field(default_factory=SystemClock)
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000
    rng: random.Random = field(default_factory=random.Random)
    # Stop sending this long before Lambda's deadline: dead-lettering and the response still need time.
    safety_margin: float = 5.0

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        remaining = context.get_remaining_time_in_millis() / 1000
        lambda_deadline = self.clock.monotonic() + remaining
        deadline = lambda_deadline - min(self.safety_margin, remaining * 0.2)

        def time_left() -> float:
            return lambda_deadline - self.clock.monotonic()

        delivery = Delivery(
            self.transport,
            clock=self.clock,
            deadline=deadline,
            request_timeout=self.settings.request_timeout,
            rng=self.rng,
        )
        records = [SQSRecord(raw) for raw in event["Records"]]
        outcomes: dict[str, Outcome] = {}
        try:
            self._settle(records, self._prepare(records), delivery, outcomes, time_left)
        except Exception as error:
            # Never fail the whole batch: what was delivered stays delivered, the rest is retried.
            # Type and place only: an exception's message may quote a record's data.
            where = traceback.extract_tb(error.__traceback__)[-1]
            logger.error(
                "invocation failed; undecided records are reported failed",
                extra={
                    "error": type(error).__name__,
                    "at": f"{where.filename}:{where.lineno} in {where.name}",
                },
            )
        for record in records:
            outcomes.setdefault(record.message_id, outcome.UNDECIDED)
        self._delay_failed(records, outcomes, time_left)
        logger.info(
            "invocation done",
            extra={
                "records": len(records),
                **outcome.summary(outcomes.values()),
                "requests": delivery.stats.requests,
                "retries": delivery.stats.retries,
                "throttled": delivery.stats.throttled,
                "splits": delivery.stats.splits,
                "api_status": delivery.stats.by_status,
            },
        )
        return outcome.response([r.message_id for r in records], outcomes)

    def _prepare(self, records: Sequence[SQSRecord]) -> list[Item]:
        # Not Powertools' BatchProcessor: it settles records one by one, while here they are sent in
        # bulk and in FIFO order; all it would add is the try/except below.
        now_ms = self.now_ms()
        return [self._prepare_one(record, now_ms) for record in records]

    def _prepare_one(self, record: SQSRecord, now_ms: int) -> Item:
        """A bad message is Invalid (dead-lettered); a bug is Broken (retried) and fails only its record."""
        try:
            payload, _ = unwrap(record.body)
            message = parse_message(payload, now_ms=now_ms)
            body = build(
                message,
                message_id=record.message_id,
                environment=self.settings.environment,
                hash_pii=self.settings.hash_pii,
                now_ms=now_ms,
            )
        except MessageError as error:
            return Invalid(record, error.reason)
        except Exception as error:
            # The type only: an exception's message may quote the record's data.
            logger.warning(
                "record could not be prepared",
                extra={"messageId": record.message_id, "error": type(error).__name__},
            )
            return Broken(record, type(error).__name__)
        return Prepared(record, body)

    def _settle(
        self,
        records: Sequence[SQSRecord],
        items: Sequence[Item],
        delivery: Delivery,
        outcomes: dict[str, Outcome],
        time_left: sqs.TimeLeft,
    ) -> None:
        """Give every record an outcome, in waves: each wave takes the next record of every group.

        On a FIFO queue a group's next record is handled only once the one before it is done, and a
        failure stops the group. On a standard queue every record is its own group: one wave.
        """
        fifo = bool(records) and records[0].event_source_arn.endswith(".fifo")
        groups: dict[str, deque[Item]] = {}
        for item in items:
            key = (item.record.attributes.message_group_id or "") if fifo else item.record.message_id
            groups.setdefault(key, deque()).append(item)
        while groups:
            heads = [queue[0] for queue in groups.values()]
            for broken in (h for h in heads if isinstance(h, Broken)):
                outcomes[broken.record.message_id] = Outcome(Status.FAILED, f"unexpected {broken.error}")
            self._dead_letter([h for h in heads if isinstance(h, Invalid)], outcomes, time_left)
            ready = [h for h in heads if isinstance(h, Prepared)]
            results = delivery.deliver([item.body for item in ready]) if ready else []
            refused = []
            for item, result in zip(ready, results, strict=True):
                if isinstance(result, Delivered):
                    outcomes[item.record.message_id] = DELIVERED
                elif isinstance(result, Failed):
                    outcomes[item.record.message_id] = Outcome(
                        Status.FAILED, result.reason, result.retry_after
                    )
                elif isinstance(result, Refused):
                    refused.append(Invalid(item.record, result.reason))
            self._dead_letter(refused, outcomes, time_left)
            for key in list(groups):
                queue = groups[key]
                head = queue.popleft()
                if outcomes[head.record.message_id].status is Status.FAILED:
                    for blocked in queue:
                        outcomes[blocked.record.message_id] = Outcome(Status.FAILED, FIFO_BLOCKED)
                    queue.clear()
                if not queue:
                    del groups[key]

    def _dead_letter(
        self, invalid: Sequence[Invalid], outcomes: dict[str, Outcome], time_left: sqs.TimeLeft
    ) -> None:
        if not invalid:
            return
        if not self.settings.dlq_url:
            for item in invalid:
                outcomes[item.record.message_id] = Outcome(
                    Status.FAILED, f"invalid, no DLQ_URL: {item.reason}"
                )
            return
        letters = [
            sqs.DeadLetter(
                message_id=item.record.message_id,
                body=item.record.body,
                reason=item.reason,
                source_queue_arn=item.record.event_source_arn,
                group_id=item.record.attributes.message_group_id,
            )
            for item in invalid
        ]
        unsent = self.dead_letter(self.settings.dlq_url, letters, time_left)
        for item in invalid:
            sent = item.record.message_id not in unsent
            outcomes[item.record.message_id] = (
                Outcome(Status.DEAD_LETTERED, item.reason)
                if sent
                else Outcome(Status.FAILED, f"DLQ send failed: {item.reason}")
            )

    def _delay_failed(
        self, records: Sequence[SQSRecord], outcomes: dict[str, Outcome], time_left: sqs.TimeLeft
    ) -> None:
        failed = [
            (record, outcomes[record.message_id])
            for record in records
            if outcomes[record.message_id].status is Status.FAILED
        ]
        if failed:
            self.delay(
                [
                    sqs.Delay(
                        message_id=record.message_id,
                        receipt_handle=record.receipt_handle,
                        source_queue_arn=record.event_source_arn,
                        seconds=outcome.retry_delay(
                            int(record.attributes.approximate_receive_count or 1),
                            result.retry_after,
                            self.rng,
                        ),
                    )
                    for record, result in failed
                ],
                time_left,
            )
