"""Simulated time for code that sleeps: hours of a fleet of containers in seconds of CPU, repeatably.

Each actor is a thread, and exactly one runs at a time: `sleep` hands the turn to the actor that
wakes first and moves the clock to its wake time. The code under test keeps its own shape (the real
`Forwarder`, `Delivery` and `Pacer` call `monotonic` and `sleep` on a `ports.Clock`), and a run with
the same seeds is the same run. asyncio cannot do this: the forwarder's code is synchronous.
"""

import heapq
import itertools
import threading
from collections.abc import Callable
from typing import Any


class _Stop(BaseException):
    """Raised inside an actor still sleeping when the simulation closes, to end its thread."""


class VirtualTime:
    """A `ports.Clock` whose sleeps are simulated; `spawn` actors, then `run_until` a time."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._queue: list[tuple[float, int, threading.Event]] = []
        self._order = itertools.count()
        self._yielded = threading.Event()
        self._closing = False
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        """Seconds since the epoch as the simulation sees them (it starts at `start`)."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Called by an actor: wake `seconds` later in simulated time, other actors running meanwhile."""
        wake = threading.Event()
        heapq.heappush(self._queue, (self._now + max(seconds, 0.0), next(self._order), wake))
        self._yielded.set()
        wake.wait()
        if self._closing:
            raise _Stop

    def spawn(self, target: Callable[..., Any], *args: Any, at: float | None = None) -> None:
        """Start `target(*args)` as an actor at simulated time `at` (default: now)."""
        wake = threading.Event()

        def actor() -> None:
            wake.wait()
            try:
                if not self._closing:
                    target(*args)
            except _Stop:
                pass
            except BaseException as error:  # reported by run_until: an actor's bug must not hang the run
                self.errors.append(error)
            finally:
                self._yielded.set()

        thread = threading.Thread(target=actor, daemon=True)
        self._threads.append(thread)
        thread.start()
        heapq.heappush(self._queue, (self._now if at is None else at, next(self._order), wake))

    def run_until(self, end: float) -> None:
        """Run every actor until simulated time `end` (or until none is left)."""
        while self._queue and self._queue[0][0] <= end:
            when, _, wake = heapq.heappop(self._queue)
            self._now = max(self._now, when)
            self._yielded.clear()
            wake.set()
            self._yielded.wait()
            if self.errors:
                raise RuntimeError("an actor failed") from self.errors[0]
        self._now = max(self._now, end)

    def close(self) -> None:
        """End every actor still sleeping (their sleep raises); the clock stays where it is."""
        self._closing = True
        while self._queue:
            _, _, wake = heapq.heappop(self._queue)
            self._yielded.clear()
            wake.set()
            self._yielded.wait(5)
        for thread in self._threads:
            thread.join(5)
