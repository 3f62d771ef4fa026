"""A benchmark child: one fresh process per contender, a warm container, big invocations.

    python -S -m bench.warm cpu ours EVENTS_FILE [--profile FILE] --out result.json
    python -S -m bench.warm memory sdk EVENTS_FILE --out result.json

EVENTS_FILE holds a JSON list of SQS events, as the Lambda runtime receives them. `cpu`: the first
event warms the container up; for each of the others, handler-thread CPU (time.thread_time around
the handler call) and wall time; `--profile FILE` runs the last one under cProfile instead. `memory`:
RSS of a process that cold-starts and handles the one event: before, the invocation's peak, the
process's peak (ru_maxrss).
The environment (moto, the sandbox) comes from the parent; stdout carries the handler's logs only.
"""

import argparse
import cProfile
import gc
import json
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import contenders
from devstack.context import LocalContext
from rokt_forwarder.ports import Handler

INVOCATION_SECONDS = 900.0  # Lambda's longest: a big invocation must never hit the deadline here


def invoke(handler: Handler, event: dict[str, Any]) -> tuple[float, float, int]:
    """Handler-thread CPU seconds, wall seconds and the records reported failed, for one invocation."""
    context = LocalContext.lasting(INVOCATION_SECONDS)
    cpu, wall = time.thread_time(), time.perf_counter()
    response = handler(event, context)
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    return cpu, wall, len(response["batchItemFailures"])


def cpu(contender: str, events: list[dict[str, Any]], profile: Path | None) -> dict[str, Any]:
    handler = contenders.load(contender)
    warmup, *measured = events
    invoke(handler, warmup)
    if profile is not None:
        *measured, profiled = measured
    runs = [invoke(handler, event) for event in measured]
    if profile is not None:
        profiler = cProfile.Profile()
        profiler.runcall(handler, profiled, LocalContext.lasting(INVOCATION_SECONDS))
        profiler.dump_stats(profile)
    return {
        "cpu_seconds": [run[0] for run in runs],
        "wall_seconds": [run[1] for run in runs],
        "failed": [run[2] for run in runs],
    }


def memory(contender: str, event: dict[str, Any]) -> dict[str, Any]:
    """The process's peak (what Lambda reports as Max Memory Used) and the invocation's own rise.

    Loading the event is the same for every contender and may set the process peak alone, so the
    kernel's high-water mark is reset (clear_refs 5) just before the call to see the invocation's.
    """
    handler = contenders.load(contender)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    _, _, failed = invoke(handler, event)
    return {
        "rss_before_kib": before,
        "invocation_peak_kib": _status_kib("VmHWM"),
        "process_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "failed": failed,
    }


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -S -m bench.warm", description=__doc__)
    parser.add_argument("mode", choices=("cpu", "memory"))
    parser.add_argument("contender", choices=contenders.CONTENDERS)
    parser.add_argument("events", type=Path)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    events = json.loads(args.events.read_bytes())  # as the Lambda runtime reads an event
    if args.mode == "cpu":
        result = cpu(args.contender, events, args.profile)
    else:
        (event,) = events
        result = memory(args.contender, event)
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
