"""devstack.ratelimit: the models of the API's rate limit that the sandbox and the simulation use."""

import pytest
from fakes import FakeClock

from devstack.ratelimit import ACCELERATION_FLOOR, Exceeded, Limiter, Usage


def limiter(usage: Usage = Usage.WINDOW, acceleration: float = 0.0) -> tuple[Limiter, FakeClock]:
    clock = FakeClock()
    return Limiter(100, usage=usage, acceleration=acceleration, clock=clock.monotonic), clock


def test_a_full_bucket_admits_a_second_s_worth_then_refuses_with_the_wait() -> None:
    bucket, clock = limiter()
    assert bucket.admit(60).admitted and bucket.admit(40).admitted
    refused = bucket.admit(30)
    assert (refused.retry_after, refused.exceeded) == (1, Exceeded.ACCOUNT)
    clock.now += 0.3
    assert bucket.admit(30).admitted, "30 tokens earned in 0.3 s"


def test_a_request_larger_than_the_bucket_needs_a_full_bucket_once() -> None:
    bucket, clock = limiter()
    assert bucket.admit(250).admitted
    assert not bucket.admit(1).admitted, "the debt is paid first"
    clock.now += 2.6
    assert bucket.admit(1).admitted


def test_the_window_header_counts_the_last_second_and_may_pass_100() -> None:
    window, clock = limiter(Usage.WINDOW)
    window.admit(100)
    clock.now += 0.99
    window.admit(99)
    assert window.percentage_used() == pytest.approx(199)
    clock.now += 0.5
    assert window.percentage_used() == pytest.approx(99)


def test_the_bucket_header_says_how_spent_the_bucket_is_whatever_the_rate() -> None:
    bucket, clock = limiter(Usage.BUCKET)
    for _ in range(20):  # 95 % of the limit, for 20 seconds: the bucket stays full
        bucket.admit(95)
        clock.now += 1
    assert bucket.percentage_used() == pytest.approx(0)
    bucket.admit(90)
    assert bucket.percentage_used() == pytest.approx(90)


def test_no_header_at_all() -> None:
    silent, _ = limiter(Usage.NONE)
    silent.admit(10)
    assert silent.percentage_used() is None


def test_from_idle_the_acceleration_limit_allows_its_floor_then_a_multiple_of_the_past() -> None:
    accelerating, clock = limiter(acceleration=2.0)
    floor = int(ACCELERATION_FLOOR * 100)
    assert accelerating.admit(floor).admitted
    refused = accelerating.admit(1)
    assert (refused.retry_after, refused.exceeded) == (1, Exceeded.ACCELERATION)
    for _ in range(5):  # five seconds at the floor: the next second may take twice that
        clock.now += 1
        assert accelerating.admit(floor).admitted
    clock.now += 1
    assert accelerating.admit(2 * floor).admitted
    assert accelerating.percentage_used() == pytest.approx(100)
