"""One invocation: a message's way from SQS record to partial-batch response.

record → envelope → message → batch (validated) → packed requests → delivery → outcome → response.
"""

import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
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
    clock: Clock = field(default_factory=SystemClock)
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000
    dead_letter: Callable[[str, Sequence[sqs.DeadLetter]], set[str]] = sqs.dead_letter
    delay: Callable[[Sequence[sqs.Delay]], None] = sqs.delay
    rng: random.Random = field(default_factory=random.Random)
    # Stop this long before Lambda's deadline: dead-lettering and the response still need time.
    safety_margin: float = 3.0

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        remaining = context.get_remaining_time_in_millis() / 1000
        deadline = self.clock.monotonic() + remaining - min(self.safety_margin, remaining * 0.2)
        delivery = Delivery(
            self.transport,
            clock=self.clock,
            deadline=deadline,
            request_timeout=self.settings.request_timeout,
            rng=self.rng,
        )
        records, prepared = self._prepare(event)
        outcomes: dict[str, Outcome] = {}
        self._dead_letter([p for p in prepared if isinstance(p, Invalid)], outcomes)
        self._deliver(records, prepared, delivery, outcomes)
        self._delay_failed(records, outcomes)
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

    def _prepare(self, event: dict[str, Any]) -> tuple[list[SQSRecord], list[Prepared | Invalid | None]]:
        """Per record, in Powertools' batch processor: a bug in one record fails only that record."""
        now_ms = self.now_ms()

        def prepare(record: SQSRecord) -> Prepared | Invalid:
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
            return Prepared(record, body)

        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        with processor(records=event["Records"], handler=prepare):
            processed = processor.process()
        records = [SQSRecord(raw) for raw in event["Records"]]
        results = [result if status == "success" else None for status, result, _ in processed]
        return records, results

    def _dead_letter(self, invalid: Sequence[Invalid], outcomes: dict[str, Outcome]) -> None:
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
        unsent = self.dead_letter(self.settings.dlq_url, letters)
        for item in invalid:
            sent = item.record.message_id not in unsent
            status = Status.DEAD_LETTERED if sent else Status.FAILED
            outcomes[item.record.message_id] = Outcome(
                status, item.reason if sent else f"DLQ send failed: {item.reason}"
            )

    def _deliver(
        self,
        records: Sequence[SQSRecord],
        prepared: Sequence[Prepared | Invalid | None],
        delivery: Delivery,
        outcomes: dict[str, Outcome],
    ) -> None:
        """Deliver in waves: the next message of a FIFO group goes only once the one before it is done.

        A standard queue has no groups, so everything goes in the first wave.
        """
        fifo = bool(records) and records[0].event_source_arn.endswith(".fifo")
        groups: dict[str, deque[Prepared]] = {}
        blocked: set[str] = set()
        for record, item in zip(records, prepared, strict=True):
            group = (record.attributes.message_group_id or "") if fifo else record.message_id
            if item is None:
                outcomes[record.message_id] = Outcome(Status.FAILED, "unexpected error while preparing")
            if group in blocked:
                outcomes[record.message_id] = Outcome(Status.FAILED, FIFO_BLOCKED)
            elif isinstance(item, Prepared):
                groups.setdefault(group, deque()).append(item)
            if outcomes.get(record.message_id, DELIVERED).status is Status.FAILED and fifo:
                blocked.add(group)
                for queued in groups.pop(group, ()):
                    outcomes[queued.record.message_id] = Outcome(Status.FAILED, FIFO_BLOCKED)
        while groups:
            wave = [queue[0] for queue in groups.values()]
            results = delivery.deliver([item.body for item in wave])
            refused = [
                Invalid(item.record, r.reason)
                for item, r in zip(wave, results, strict=True)
                if isinstance(r, Refused)
            ]
            for item, result in zip(wave, results, strict=True):
                if isinstance(result, Delivered):
                    outcomes[item.record.message_id] = DELIVERED
                elif isinstance(result, Failed):
                    outcomes[item.record.message_id] = Outcome(
                        Status.FAILED, result.reason, result.retry_after
                    )
            self._dead_letter(refused, outcomes)
            for key, item in zip(list(groups), wave, strict=True):
                queue = groups[key]
                queue.popleft()
                if outcomes[item.record.message_id].status is Status.FAILED:
                    for queued in queue:
                        outcomes[queued.record.message_id] = Outcome(Status.FAILED, FIFO_BLOCKED)
                    queue.clear()
                if not queue:
                    del groups[key]

    def _delay_failed(self, records: Sequence[SQSRecord], outcomes: dict[str, Outcome]) -> None:
        delays = [
            sqs.Delay(
                message_id=record.message_id,
                receipt_handle=record.receipt_handle,
                source_queue_arn=record.event_source_arn,
                seconds=outcome.retry_delay(
                    int(record.attributes.approximate_receive_count or 1),
                    outcomes[record.message_id].retry_after,
                    self.rng,
                ),
            )
            for record in records
            if outcomes.get(record.message_id, Outcome(Status.FAILED)).status is Status.FAILED
        ]
        if delays:
            self.delay(delays)
