"""pacing.Pacer on a fake clock: fair share, shares of a second, easing off, backing off, recovering."""

import random

import pytest
from fakes import FakeClock

from rokt_forwarder import pacing
from rokt_forwarder.pacing import Pacer, Share

FAIR = pacing.HEADROOM * 270 / 5  # five containers on a 270 batches/s account


def drained(budget: float = 270, sharers: int = 5) -> tuple[Pacer, FakeClock]:
    """A pacer whose random start has been spent, so every share below is earned on the clock."""
    clock = FakeClock()
    pacer = Pacer(budget, sharers, clock, random.Random(1))
    first = pacer.take(pacing.MIN_BATCHES, within=60)
    assert first is not None
    clock.now += first.wait
    return pacer, clock


def test_the_rate_starts_at_the_fair_share_a_little_under_the_budget() -> None:
    assert Pacer(270, 5, FakeClock()).rate == pytest.approx(FAIR)
    assert Pacer(270, 50, FakeClock()).rate == pytest.approx(FAIR / 10)
    assert FAIR * 5 < 270


def test_containers_that_start_together_send_their_first_requests_at_different_times() -> None:
    waits = [Pacer(270, 50, FakeClock(), random.Random(seed)).take(100, 60) for seed in range(100)]
    firsts = sorted(share.wait for share in waits if share is not None)
    assert len(firsts) == 100
    assert firsts[0] < 0.2 and firsts[-1] > 1.5, "spread over the time a first request takes to earn"


def test_a_request_waits_for_about_a_second_s_worth_and_carries_what_was_earned() -> None:
    pacer, clock = drained()
    share = pacer.take(100, within=60)
    assert share == Share(int(FAIR), pytest.approx(int(FAIR) / FAIR))
    clock.now += share.wait + 0.5
    later = pacer.take(100, within=60)
    assert later is not None and later.batches == int(FAIR), "a second's worth again"
    assert later.wait == pytest.approx((int(FAIR) - 0.5 * FAIR) / FAIR, abs=0.02)


def test_a_small_share_waits_for_ten_batches_rather_than_a_second_s_worth() -> None:
    pacer, _ = drained(270, 50)
    share = pacer.take(100, within=60)
    assert share == Share(pacing.MIN_BATCHES, pytest.approx(pacing.MIN_BATCHES / (FAIR / 10)))


def test_a_request_smaller_than_the_least_share_waits_for_itself_only() -> None:
    pacer, _ = drained()
    share = pacer.take(3, within=60)
    assert share is not None and share.batches == 3 and share.wait == pytest.approx(3 / FAIR)


def test_no_share_when_it_cannot_come_in_time() -> None:
    pacer, _ = drained()
    assert pacer.take(100, within=0.01) is None, "not even one batch's share comes in 10 ms"
    assert pacer.take(100, within=1.5) is not None, "a refusal takes nothing from the bucket"


def test_idle_time_saves_up_at_most_one_full_request() -> None:
    pacer, clock = drained()
    clock.now += 3600
    assert pacer.take(500, within=60) == Share(100, 0.0)


def test_a_429_halves_the_rate_and_its_retry_after_holds_every_request() -> None:
    pacer, clock = drained()
    clock.now += 10
    pacer.observe(429, 10, None, 3.0)
    assert pacer.rate == pytest.approx(FAIR / 2)
    share = pacer.take(1, within=60)
    assert share is not None and share.wait == pytest.approx(3.0)
    assert pacer.take(1, within=2.0) is None


def test_after_a_429_the_rate_comes_back_to_the_fair_share_quickly() -> None:
    pacer, _ = drained()
    pacer.observe(429, 10, None, None)
    pacer.observe(202, 10, pacing.GROW_BELOW - 1, None)
    assert pacer.rate == pytest.approx(FAIR / 2 * pacing.RECOVER)
    pacer.observe(202, 10, pacing.GROW_BELOW - 1, None)
    assert pacer.rate == pytest.approx(FAIR), "no further than its due in one go"


def test_at_the_limit_a_container_above_its_share_eases_off_but_not_below_it() -> None:
    pacer, _ = drained()
    pacer.rate = 2 * FAIR
    pacer.observe(202, 10, pacing.EASE_AT, None)
    assert pacer.rate == pytest.approx(2 * FAIR * pacing.EASE)
    for _ in range(50):
        pacer.observe(202, 10, pacing.EASE_AT + 20, None)
    assert pacer.rate == pytest.approx(FAIR)


def test_with_a_little_room_the_rate_grows_by_a_step() -> None:
    pacer, _ = drained()
    pacer.observe(202, 10, pacing.GROW_BELOW - 1, None)
    pacer.observe(202, 10, None, None)
    assert pacer.rate == pytest.approx(FAIR + 2 * pacing.STEP * FAIR)


def test_between_the_thresholds_or_on_errors_the_rate_holds() -> None:
    pacer, _ = drained()
    pacer.observe(202, 10, (pacing.EASE_AT + pacing.GROW_BELOW) / 2, None)
    pacer.observe(500, 10, None, None)
    assert pacer.rate == pytest.approx(FAIR)


def test_the_rate_stays_between_a_floor_and_the_whole_budget() -> None:
    pacer, _ = drained()
    for _ in range(100):
        pacer.observe(429, 10, None, None)
    assert pacer.rate == pytest.approx(pacing.MIN_SHARE * FAIR)
    for _ in range(1000):
        pacer.observe(202, 10, 0.0, None)
    assert pacer.rate == 270


def test_an_answer_that_took_nothing_of_the_limit_gives_its_share_back() -> None:
    pacer, clock = drained()
    clock.now += 10 / FAIR
    share = pacer.take(10, within=0.0)
    assert share is not None and pacer.take(10, within=0.0) is None
    pacer.observe(503, share.batches, None, None)
    assert pacer.take(10, within=0.0) is not None, "the 503'd request's share is there again"


def test_sharers_that_start_too_slow_bring_their_sum_into_the_band_the_api_reports() -> None:
    """Five containers configured for 50: the usage header brings their sum near the budget."""
    containers = [drained(270, 50)[0] for _ in range(5)]
    for _ in range(300):
        used = 100 * sum(container.rate for container in containers) / 270
        for container in containers:
            container.observe(202, 10, used, None)
    used = 100 * sum(container.rate for container in containers) / 270
    assert pacing.GROW_BELOW <= used <= pacing.EASE_AT / pacing.EASE


def test_a_container_whose_share_is_tiny_still_sends_what_it_can_in_time() -> None:
    pacer, _ = drained(270, 1000)
    share = pacer.take(100, within=20.0)
    assert share is not None and 1 <= share.batches < pacing.MIN_BATCHES
    assert share.wait <= 20.0


def test_after_a_hold_a_container_sends_no_more_than_a_full_request() -> None:
    pacer, clock = drained()
    pacer.observe(429, 10, None, 10.0)
    first = pacer.take(500, within=60)
    assert first is not None and first.batches <= 100
    clock.now += first.wait
    second = pacer.take(500, within=0.0)
    assert second is None, "no second request right behind it"


def test_with_the_limit_clearly_under_used_twice_running_the_rate_grows_in_proportion() -> None:
    pacer, _ = drained(270, 50)
    pacer.observe(202, 10, 10.0, None)
    assert pacer.rate == pytest.approx(FAIR / 10 * 1.1), "one reading: a step only"
    pacer.observe(202, 10, 10.0, None)
    assert pacer.rate == pytest.approx(FAIR / 10 * 1.1 * pacing.RECOVER)


def test_misconfigured_sharers_reach_the_band_within_a_minute_of_answers() -> None:
    """Five busy containers configured for fifty: the usage header brings their sum near the budget."""
    containers = [drained(270, 50)[0] for _ in range(5)]
    for _ in range(60):
        used = 100 * sum(container.rate for container in containers) / 270
        for container in containers:
            container.observe(202, 10, used, None)
    assert 100 * sum(container.rate for container in containers) / 270 >= pacing.GROW_BELOW / 2
