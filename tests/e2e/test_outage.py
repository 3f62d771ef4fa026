"""A day-long Event API outage on the local stack: nothing dead-lettered, everything delivered once.

moto's SQS (its receive counts and its redrive at the template's maxReceiveCount) with the retry
delays the function sets passing TIME_SCALE times faster, so 26 hours of them take under a minute; the real
handler with the template's settings; the sandbox answering 503 to everything for that stretch, then
back. `make bench-outage` measures the same story in simulated time (docs/benchmarks.md).
"""

import pytest

from devstack.demo import Options, print_report, run
from devstack.template import StackSettings

TIME_SCALE = 2000
OUTAGE_HOURS = 26
MESSAGES = 400
RATE = 50  # batches/s: a smaller account, so the drain after the outage lasts long enough to judge


@pytest.mark.e2e
def test_a_day_long_outage_dead_letters_nothing_and_everything_arrives_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outage_seconds = OUTAGE_HOURS * 3600 / TIME_SCALE
    report = run(
        Options(
            messages=MESSAGES,
            invalid_ratio=0.0,
            seed=3,
            faults={},
            outages=((0.0, outage_seconds),),
            drain_timeout=outage_seconds + 120,
            progress=False,
            time_scale=TIME_SCALE,
            sandbox={"rate": RATE},
            env={"ROKT_MAX_BATCHES_PER_SECOND": str(RATE)},
        )
    )
    with capsys.disabled():
        print_report(report)

    settings = StackSettings.from_template(Options.template)
    receives = report.mapping.receive_counts
    assert report.sent == MESSAGES
    assert report.dead_lettered == {} and report.unexpected_dead_letters == [], "nothing in the DLQ"
    # The traffic mixes in Shopify and Stripe events that are not conversions: skipped, never sent.
    assert report.valid + report.skipped == MESSAGES and report.valid > 0.5 * MESSAGES
    assert report.undelivered == [] and report.delivered == report.valid
    assert report.unexpected_deliveries == []
    assert report.ok
    assert report.left_in_queues == 0
    assert report.api is not None
    # Counted once by the API; a few sent twice (a delete moto lost, SQS's at-least-once) are its dedup's.
    assert report.duplicate_rate <= 0.02
    assert max(receives) < settings.max_receive_count, "no message reached its last receive"
    # Each receive also takes real time (the poll, the invocation), which the scale does not shrink:
    # about 35 receives fit in the outage here, not the schedule's 130 (make bench-outage has those).
    assert max(receives) >= 20, "the outage really lasted many receives"
    after = [counts for second, counts in report.api["series"].items() if int(second) >= outage_seconds]
    requests = sum(counts.get("requests", 0) for counts in after)
    throttled = sum(counts.get("throttled", 0) for counts in after)
    assert throttled <= 0.05 * requests, f"the drain: {throttled} of {requests} requests answered 429"
