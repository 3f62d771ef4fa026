"""Zero loss under chaos: ≥10,000 messages through SQS, the real handler and a faulty Event API.

CHAOS_MESSAGES=50000 make e2e runs it larger by hand.
"""

import os

import pytest

from devstack.demo import Options, print_report, run
from devstack.template import StackSettings

MESSAGES = int(os.environ.get("CHAOS_MESSAGES", "10000"))
# ≥ 20% of requests faulted on top of the rate limit, slow answers and one long outage.
FAULTS = {"p429": 0.06, "p503": 0.06, "p500": 0.04, "p_reset": 0.04, "p_slow": 0.04, "slow_seconds": 2.0}


@pytest.mark.e2e
def test_nothing_is_lost_under_chaos(capsys: pytest.CaptureFixture[str]) -> None:
    timeout = StackSettings.from_template(Options.template).function_timeout_seconds
    outage = (5.0, 5.0 + timeout + 5)  # longer than a Lambda timeout: invocations give up mid-outage
    report = run(
        Options(
            messages=MESSAGES,
            invalid_ratio=0.05,
            seed=11,
            faults=FAULTS,
            outages=(outage,),
            # A record the outage fails twice and a fault once more waits up to 2 minutes for its
            # fourth receive (outcome.retry_delay), and a busy 2-core machine sends and drains 10,000
            # messages in 3-5 minutes: the bound leaves room for both, it is not a speed target.
            drain_timeout=600,
            progress=False,
        )
    )
    with capsys.disabled():
        print_report(report)

    assert report.sent == MESSAGES
    assert report.invalid > 0.03 * MESSAGES
    assert report.undelivered == [], "every valid message reached the API at least once"
    assert report.delivered == report.valid
    assert report.missing_dead_letters == [], "every invalid message is in the DLQ"
    assert report.unexpected_dead_letters == [], "nothing else is in the DLQ"
    assert all(reason and "redriven" not in reason for reason in report.dead_lettered.values())
    assert report.left_in_queues == 0
    assert report.duplicate_rate < 0.01
    assert report.api is not None
    faulted = sum(report.api["faults"].values())
    assert faulted >= 0.2 * report.api["requests"], "the run must really be faulty"
    assert report.mapping.records_retried > 0
