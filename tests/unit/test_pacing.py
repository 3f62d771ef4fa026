"""pacing.Pacer and pacing.Rate on a fake clock: shares of a second, the slow start, 429s as the truth,
the usage header as a brake only, the ceiling, quiet growth, idle restarts.

How a whole fleet behaves on several models of the API is tests/integration/test_pacing_models.py.
"""

import random

import pytest
from fakes import FakeClock

from rokt_forwarder import pacing
from rokt_forwarder.pacing import Pacer, Rate, Share

FAIR = pacing.HEADROOM * 270 / 5  # five containers on a 270 batches/s account


def drained(limit: float = 270, concurrency: int = 5) -> tuple[Pacer, FakeClock]:
    """A pacer whose random start has been spent, so every share below is earned on the clock."""
    clock = FakeClock()
    pacer = Pacer(limit, concurrency, clock, random.Random(1))
    first = pacer.take(pacing.MIN_BATCHES, within=60)
    assert first is not None
    clock.now += first.wait
    return pacer, clock


def sending(rate: Rate, clock: FakeClock, seconds: float, used: float | None = None) -> None:
    """Answers of 202, one a second, to requests that waited for the rate."""
    for _ in range(int(seconds)):
        clock.now += 1
        rate.accepted(clock.now, 10, used, tested=True)


def test_a_cold_start_begins_at_a_quarter_of_the_fair_share() -> None:
    assert Pacer(270, 5, FakeClock()).rate == pytest.approx(pacing.START * FAIR)
    assert Pacer(270, 50, FakeClock()).fair_share == pytest.approx(FAIR / 10)
    assert FAIR * 5 < 270, "shares add up to a little under the limit"


def test_the_slow_start_grows_by_a_share_per_second_up_to_the_fair_share() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    sending(rate, clock, 1)
    assert rate.value == pytest.approx(pacing.START * FAIR * (1 + pacing.SLOW_START))
    seconds = 1
    while rate.value < FAIR:
        sending(rate, clock, 1)
        seconds += 1
    assert rate.value == pytest.approx(FAIR), "no further than its due at first"
    assert seconds <= 12, "from a fifth of it in about ten seconds"
    sending(rate, clock, 10)
    assert rate.value == pytest.approx(FAIR * (1 + 10 * pacing.PROBE)), "then a small step a second"


def test_growth_needs_a_request_that_waited_for_the_rate() -> None:
    """A container with little to send does not build up a rate it never tested."""
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    for _ in range(30):
        clock.now += 1
        rate.accepted(clock.now, 1, None, tested=False)
    assert rate.value == pytest.approx(pacing.START * FAIR)


def test_a_low_usage_header_does_not_speed_anything_up() -> None:
    clock, other = FakeClock(), FakeClock()
    told, silent = Rate(270, FAIR, 0.0), Rate(270, FAIR, 0.0)
    sending(told, clock, 20, used=0.0)
    sending(silent, other, 20, used=None)
    assert told.value == pytest.approx(silent.value)


def test_a_high_usage_header_holds_the_rate_and_a_higher_one_eases_it() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    sending(rate, clock, 5)
    held = rate.value
    sending(rate, clock, 5, used=pacing.HOLD_AT + 0.5)
    assert rate.value == pytest.approx(held)
    sending(rate, clock, 30, used=200.0)
    assert rate.value < held * pacing.EASE, "eases off, once per reaction time"


def test_one_lumpy_reading_does_not_brake() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    sending(rate, clock, 3, used=50.0)
    before = rate.value
    sending(rate, clock, 1, used=150.0)
    assert rate.value > before, "smoothed: one second's count swings widely"


def test_a_429_cuts_to_a_share_of_what_the_api_took_and_sets_the_ceiling() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    rate.value = 100.0  # far above what the API takes: 10 batches a second
    sending(rate, clock, 5)
    rate.value = 100.0
    rate.throttled(clock.now, "account")
    took = 10 * 5 / pacing.TOOK_SECONDS
    assert rate.value == pytest.approx(pacing.BACK_OFF * took)
    assert rate.ceiling == pytest.approx(pacing.CEILING * took)


def test_a_429_just_after_the_api_read_far_below_its_limit_keeps_the_rate() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    sending(rate, clock, 5, used=pacing.FAR_BELOW - 1)
    before = rate.value
    rate.throttled(clock.now + 1, "account")
    assert rate.value == before and rate.ceiling is None


def test_a_second_429_in_a_row_cuts_whatever_the_reading_said() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    sending(rate, clock, 5, used=10.0)
    before = rate.value
    rate.throttled(clock.now, "account")
    rate.throttled(clock.now + 0.5, "account")
    assert rate.value < before and rate.ceiling is not None


def test_a_429_after_a_stale_low_reading_or_naming_acceleration_cuts() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    sending(rate, clock, 5, used=10.0)
    before = rate.value
    rate.throttled(clock.now + pacing.READING_SECONDS + 0.5, "account")
    assert rate.value < before
    clock.now += pacing.READING_SECONDS + 0.5
    sending(rate, clock, 5, used=10.0)
    before = rate.value
    rate.throttled(clock.now, pacing.ACCELERATION)
    assert rate.value < before


def test_a_429_just_after_a_high_reading_cuts() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    sending(rate, clock, 5, used=pacing.FAR_BELOW)
    before = rate.value
    rate.throttled(clock.now, "account")
    assert rate.value < before


def test_the_429s_of_one_overshoot_cut_once_per_reaction_time() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    sending(rate, clock, 20)
    rate.throttled(clock.now, "account")
    once = rate.value
    clock.now += pacing.REACTION_SECONDS / 2
    rate.throttled(clock.now, "account")
    assert rate.value == once
    clock.now += pacing.REACTION_SECONDS
    rate.throttled(clock.now, "account")
    assert rate.value < once


def test_after_a_429_the_rate_returns_to_the_ceiling_quickly_then_grows_slowly() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    sending(rate, clock, 20)
    rate.throttled(clock.now, "account")
    assert rate.ceiling is not None
    ceiling = rate.ceiling
    sending(rate, clock, 15)
    assert rate.value == pytest.approx(ceiling, rel=0.05)
    sending(rate, clock, 20)
    assert rate.value - ceiling < 25 * pacing.PROBE * FAIR, "past the ceiling: a small step a second"


def test_long_without_a_brake_it_looks_for_room_in_proportion() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    sending(rate, clock, 20)
    rate.throttled(clock.now, "account")
    sending(rate, clock, pacing.QUIET_SECONDS)
    before = rate.value
    sending(rate, clock, 10)
    assert rate.value >= before * (1 + pacing.QUIET_GROWTH) ** 9


def test_an_acceleration_429_slows_the_start_but_does_not_end_it() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    sending(rate, clock, 2)
    rate.throttled(clock.now, pacing.ACCELERATION)
    assert rate.ceiling is None, "not the speed limit"
    start = rate.value
    sending(rate, clock, 1)
    assert rate.value == pytest.approx(start * (1 + pacing.SLOW_START * 2 / 3))


def test_the_rate_stays_between_a_floor_and_the_whole_limit() -> None:
    clock = FakeClock()
    rate = Rate(270, FAIR, clock.now)
    for _ in range(100):
        clock.now += pacing.REACTION_SECONDS
        rate.throttled(clock.now, "account")
    assert rate.value == pytest.approx(pacing.MIN_SHARE * FAIR)
    sending(rate, clock, 10_000)
    assert rate.value == 270


def test_after_an_idle_spell_the_container_starts_slowly_again() -> None:
    pacer, clock = drained()
    for _ in range(60):
        share = pacer.take(100, within=60)
        assert share is not None
        clock.now += share.wait
        pacer.observe(202, share.batches, None, None)
    assert pacer.rate >= FAIR
    clock.now += pacing.IDLE_SECONDS + 1
    assert pacer.take(10, within=60) is not None
    assert pacer.rate == pytest.approx(pacing.START * FAIR), "a drain after an outage ramps up"


def test_containers_that_start_together_send_their_first_requests_at_different_times() -> None:
    waits = [Pacer(270, 5, FakeClock(), random.Random(seed)).take(100, 60) for seed in range(100)]
    firsts = sorted(share.wait for share in waits if share is not None)
    assert len(firsts) == 100
    assert firsts[0] < 0.3 and firsts[-1] > 0.7, "spread over the time a first request takes to earn"


def test_a_request_waits_for_about_a_second_s_worth_and_carries_what_was_earned() -> None:
    pacer, clock = drained()
    rate = pacer.rate
    share = pacer.take(100, within=60)
    assert share == Share(int(rate), pytest.approx(int(rate) / rate))
    pacer._rate.value = rate = FAIR
    clock.now += share.wait + 0.5
    later = pacer.take(100, within=60)
    assert later is not None and later.batches == int(FAIR), "a second's worth at the new rate"


def test_a_request_smaller_than_the_least_share_waits_for_itself_only() -> None:
    pacer, _ = drained()
    share = pacer.take(3, within=60)
    assert share is not None and share.batches == 3 and share.wait == pytest.approx(3 / pacer.rate)


def test_no_share_when_it_cannot_come_in_time() -> None:
    pacer, _ = drained()
    assert pacer.take(100, within=0.01) is None, "not even one batch's share comes in 10 ms"
    assert pacer.take(100, within=3.0) is not None, "a refusal takes nothing from the bucket"


def test_idle_time_saves_up_at_most_a_second_s_worth() -> None:
    """Five containers back from a pause must not send 5 x 100 batches at once into a 270/s limit."""
    pacer, clock = drained()
    clock.now += 3600
    share = pacer.take(500, within=60)
    assert share is not None and share.batches <= max(pacer.rate, pacing.MIN_BATCHES) and share.wait == 0


def test_a_429_s_retry_after_holds_every_request() -> None:
    pacer, clock = drained()
    clock.now += 1
    pacer.observe(429, 10, None, 3.0)
    share = pacer.take(1, within=60)
    assert share is not None and share.wait == pytest.approx(3.0)
    assert pacer.take(1, within=2.0) is None
    assert pacer.held_for() == pytest.approx(3.0)


def test_a_shorter_retry_after_does_not_shorten_a_longer_hold() -> None:
    pacer, clock = drained()
    pacer.observe(429, 10, None, 30.0)
    clock.now += 1
    pacer.observe(429, 10, None, 2.0)
    assert pacer.held_for() == pytest.approx(29.0)


def test_an_answer_that_took_nothing_of_the_limit_gives_its_share_back() -> None:
    pacer, clock = drained()
    clock.now += 10 / pacer.rate
    share = pacer.take(10, within=0.0)
    assert share is not None and pacer.take(10, within=0.0) is None
    pacer.observe(503, share.batches, None, None)
    assert pacer.take(10, within=0.0) is not None, "the 503'd request's share is there again"


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
