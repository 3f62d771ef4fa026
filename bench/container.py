"""One warm Lambda container of `make bench-rate`: a spawned process that invokes its forwarder in a loop.

It cold-starts once, says it is ready, waits for the start signal, then invokes on synthetic
100-record events (fresh messageIds each time) until told to stop, as a container of an event
source mapping draining a backlog does. What it sends back: one (start, seconds, records, failed)
per invocation, with start on the machine's monotonic clock, so the parent can keep a time window.
"""

import os
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

from bench import contenders, events
from devstack.context import LocalContext

INVOCATION_SECONDS = 30.0  # the function timeout a container gets per invocation
POOL = 200

type Invocation = tuple[float, float, int, int]


@dataclass(frozen=True)
class Job:
    contender: str
    env: dict[str, str]
    records: int
    seed: int


@dataclass(frozen=True)
class Signals:
    """Shared with the parent: ready (pids), go and stop, and where the results go."""

    ready: "Queue[Any]"
    go: Event
    stop: Event
    results: "Queue[Any]"


def run(job: Job, signals: Signals) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the handler's log lines: 50 containers would drown the tables
    os.environ.update(job.env)
    handler = contenders.load(job.contender)
    pool = events.bodies(POOL, seed=job.seed)
    signals.ready.put(os.getpid())
    signals.go.wait()
    done: list[Invocation] = []
    while not signals.stop.is_set():
        event = events.sqs_event(pool, job.records, start=len(done) * job.records)
        started = time.monotonic()
        response = handler(event, LocalContext.lasting(INVOCATION_SECONDS))
        done.append((started, time.monotonic() - started, job.records, len(response["batchItemFailures"])))
    signals.results.put((os.getpid(), done))
