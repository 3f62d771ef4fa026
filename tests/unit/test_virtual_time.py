"""devstack.virtual_time: actors take turns in simulated time, in the order they wake."""

import pytest

from devstack.virtual_time import VirtualTime


def test_actors_run_in_the_order_of_their_wake_times_and_time_jumps() -> None:
    clock, log = VirtualTime(), []

    def actor(name: str, every: float) -> None:
        while True:
            log.append((clock.monotonic(), name))
            clock.sleep(every)

    clock.spawn(actor, "a", 1.0)
    clock.spawn(actor, "b", 1.5)
    clock.run_until(3.0)
    clock.close()
    # At 3 s both wake: in the order they went to sleep.
    assert log == [(0, "a"), (0, "b"), (1, "a"), (1.5, "b"), (2, "a"), (3, "b"), (3, "a")]
    assert clock.monotonic() == 3.0


def test_an_actor_s_error_stops_the_run() -> None:
    clock = VirtualTime()

    def broken() -> None:
        clock.sleep(1)
        raise ValueError("bug")

    clock.spawn(broken)
    with pytest.raises(RuntimeError) as raised:
        clock.run_until(10)
    assert isinstance(raised.value.__cause__, ValueError)
    clock.close()
