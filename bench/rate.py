"""`make bench-rate`: warm containers draining a backlog at the API's rate limit, on several models of it.

The API does not say how it counts or what its usage header means (devstack/ratelimit.py), so each row
runs against another model: the header as the last second's count (window), as how spent the
limiter's token bucket is (bucket), or absent (none); more containers busy than ROKT_CONCURRENCY says;
another sender of the account taking half the limit; and a start from idle under an acceleration
limit. Each container is an OS process (multiprocessing, spawn) invoking the real handler on
100-record events in a loop; the sandbox, in its own process, answers after 50 ms.

Per row, over a window after the warm-up: the share of the room the other sender leaves (batches
accepted / (rate x (1 - other share) x seconds)), the share of requests answered 429, the records
reported failed, and the other sender's share of requests answered 429. Targets (issue 14): >= 90 %
of the room, <= 5 % answered 429, no record failed, the other sender <= 5 % 429. A plot of
throughput and 429s over time per row is written with --plot (docs/benchmarks.md shows it).
"""

import argparse
import multiprocessing
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3

from bench import container
from bench.contenders import LABELS, OURS
from bench.events import bodies, sqs_event
from bench.harness import BenchStack, Machine, MachineCpu, SandboxProcess
from bench.suite import Table
from devstack.ratelimit import Usage
from devstack.sandbox import SandboxConfig
from rokt_forwarder import limits
from rokt_forwarder.batch import prepare

ROOM_TARGET, THROTTLED_TARGET, OTHER_TARGET = 0.90, 0.05, 0.05
SATURATED = 0.9  # machine-wide CPU share above which a row says its containers were starved
READY_SECONDS = 180.0  # 20 cold starts on 2 cores take a while


@dataclass(frozen=True)
class Row:
    """One scenario of the matrix."""

    label: str
    containers: int
    usage: Usage
    concurrency: int | None = None  # ROKT_CONCURRENCY; None: the number of containers
    other_share: float = 0.0
    acceleration: float = 0.0
    from_idle: bool = False  # measured from the start, warm-up included

    def sandbox_flags(self, rate: float, latency: float) -> list[str]:
        return [
            *("--rate", f"{rate:g}", "--latency", f"{latency:g}", "--usage", str(self.usage)),
            *("--other-sender", f"{self.other_share:g}", "--acceleration", f"{self.acceleration:g}"),
        ]


MATRIX = (
    Row("window", 5, Usage.WINDOW),
    Row("window", 20, Usage.WINDOW),
    Row("bucket", 5, Usage.BUCKET),
    Row("bucket", 20, Usage.BUCKET),
    Row("none", 5, Usage.NONE),
    Row("none", 20, Usage.NONE),
    Row("bucket, ROKT_CONCURRENCY 5", 20, Usage.BUCKET, concurrency=5),
    Row("bucket, other sender 50 %", 5, Usage.BUCKET, other_share=0.5),
    Row("bucket, from idle, acceleration", 20, Usage.BUCKET, acceleration=2.0, from_idle=True),
)


@dataclass
class Window:
    """What one row did in its measured window."""

    row: Row
    seconds: float
    rate: float
    accepted: int
    requests: int
    throttled: int
    other_requests: int
    other_throttled: int
    invocations: int
    records: int
    failed: int
    mean_invocation: float
    machine_busy: float
    sandbox_cpu: float
    series: list[dict[str, int]] = field(default_factory=list)  # per second from the start

    @property
    def room_share(self) -> float:
        return self.accepted / (self.rate * (1 - self.row.other_share) * self.seconds)

    @property
    def throttled_share(self) -> float:
        return self.throttled / max(self.requests, 1)

    @property
    def other_throttled_share(self) -> float:
        return self.other_throttled / max(self.other_requests, 1)

    @property
    def met(self) -> bool:
        return (
            self.room_share >= ROOM_TARGET
            and self.throttled_share <= THROTTLED_TARGET
            and self.failed == 0
            and self.other_throttled_share <= OTHER_TARGET
        )

    def cells(self, label: str) -> list[str]:
        other = f"{self.other_throttled_share:.1%}" if self.row.other_share else "-"
        return [
            label,
            str(self.row.containers),
            str(self.row.concurrency or self.row.containers),
            f"{self.room_share:.0%}",
            f"{self.throttled_share:.1%}",
            f"{self.failed:,} of {self.records:,}",
            other,
            f"{self.mean_invocation:.2f}",
            f"{self.machine_busy:.0%} / {self.sandbox_cpu:.0%}",
            "met" if self.met else "missed",
        ]


def measure(
    stack: BenchStack,
    contender: str,
    row: Row,
    *,
    seconds: float,
    warmup: float,
    records: int,
    rate: float,
    env: dict[str, str],
) -> Window:
    spawn = multiprocessing.get_context("spawn")
    signals = container.Signals(spawn.Queue(), spawn.Event(), spawn.Event(), spawn.Queue())
    environment = {**stack.environment(), **env}
    processes = [
        spawn.Process(
            target=container.run,
            args=(container.Job(contender, environment, records, seed), signals),
            daemon=True,
        )
        for seed in range(row.containers)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            signals.ready.get(timeout=READY_SECONDS)
        go, skip = stack.sandbox.stats(), 0.0 if row.from_idle else warmup
        signals.go.set()
        time.sleep(skip)
        before, machine, sandbox_cpu = stack.sandbox.stats(), MachineCpu(), stack.sandbox.cpu_seconds()
        start = time.monotonic()
        time.sleep(seconds)
        end = time.monotonic()
        after, busy = stack.sandbox.stats(), machine.busy_share()
        sandbox_share = (stack.sandbox.cpu_seconds() - sandbox_cpu) / (end - start)
        signals.stop.set()
        done = [signals.results.get(timeout=READY_SECONDS)[1] for _ in processes]
    finally:
        signals.stop.set()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
    inside = [run for runs in done for run in runs if start <= run[0] < end]
    first = int(go["uptime_seconds"])
    series = [after["series"].get(str(second), {}) for second in range(first, int(after["uptime_seconds"]))]
    return Window(
        row=row,
        seconds=end - start,
        rate=rate,
        accepted=_delta(after, before, "batches_accepted") + _delta(after, before, "deduplicated"),
        requests=_delta(after, before, "requests"),
        throttled=after["by_status"].get("429", 0) - before["by_status"].get("429", 0),
        other_requests=_delta(after["other_sender"], before["other_sender"], "requests"),
        other_throttled=_delta(after["other_sender"], before["other_sender"], "rate_limited"),
        invocations=len(inside),
        records=sum(run[2] for run in inside),
        failed=sum(run[3] for run in inside),
        mean_invocation=statistics.fmean(run[1] for run in inside) if inside else float("nan"),
        machine_busy=busy,
        sandbox_cpu=sandbox_share,
        series=series,
    )


def _delta(after: dict[str, Any], before: dict[str, Any], key: str) -> int:
    return int(after[key]) - int(before[key])


def sandbox_ceiling(
    *, seconds: float, clients: int, batches: int, rate: str = "0"
) -> tuple[float, float, float]:
    """Batches/s, requests/s and the sandbox's CPU share when `clients` threads post full bulk requests."""
    config = SandboxConfig()
    pool = bodies(batches)
    event = sqs_event(pool, batches)
    body = b"[" + b",".join(_batch(record) for record in event["Records"]) + b"]"
    headers = {
        **urllib3.make_headers(basic_auth=f"{config.api_key}:{config.api_secret}"),
        "Content-Type": "application/json",
    }
    counts = [0] * clients
    with SandboxProcess("--rate", rate, "--latency", "0") as sandbox:
        url, deadline = sandbox.url + "/bulkevents", time.monotonic() + seconds

        def client(index: int) -> None:
            pool_ = urllib3.PoolManager(retries=False)
            while time.monotonic() < deadline:
                pool_.request("POST", url, body=body, headers=headers)
                counts[index] += 1

        cpu = sandbox.cpu_seconds()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        share = (sandbox.cpu_seconds() - cpu) / seconds
    return sum(counts) * batches / seconds, sum(counts) / seconds, share


def _batch(record: dict[str, Any]) -> bytes:
    now_ms = time.time_ns() // 1_000_000
    return prepare(record["body"], environment="development", hash_pii=False, now_ms=now_ms)


def plot(windows: Sequence[Window], rate: float, path: Path) -> None:
    """Throughput (ours, the other sender's) and 429s per second over time, one panel per row."""
    import matplotlib  # noqa: PLC0415 - a dev dependency, loaded only to draw

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    columns = 3
    rows = -(-len(windows) // columns)
    figure, axes = pyplot.subplots(rows, columns, figsize=(5 * columns, 3 * rows), sharey=True, squeeze=False)
    for axis, window in zip(axes.flat, windows, strict=False):
        seconds = range(len(window.series))
        ours = [second.get("accepted", 0) for second in window.series]
        other = [second.get("other_accepted", 0) for second in window.series]
        throttled = [
            10 * (second.get("throttled", 0) + second.get("other_throttled", 0)) for second in window.series
        ]
        axis.stackplot(seconds, ours, other, labels=["ours", "other sender"], alpha=0.7)
        axis.bar(seconds, throttled, color="crimson", width=1.0, label="429s x 10")
        axis.axhline(rate, color="black", linewidth=0.8, linestyle="--")
        row = window.row
        axis.set_title(f"{row.containers} containers, {row.label}", fontsize=9)
        axis.set_xlabel("seconds from start", fontsize=8)
    for axis in axes.flat[len(windows) :]:
        axis.set_visible(False)
    axes[0][0].set_ylabel("batches/s accepted")
    axes[0][0].legend(loc="lower right", fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make bench-rate BENCH_ARGS=...",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--rows", default="all", help="comma-separated row numbers of the matrix (1-based)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per row")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before the window opens")
    parser.add_argument("--records", type=int, default=100, help="records per invocation")
    parser.add_argument("--rate", type=float, default=limits.RATE_LIMIT, help="the sandbox's limit")
    parser.add_argument("--latency", type=float, default=0.05, help="the sandbox's answer time, seconds")
    parser.add_argument("--forwarders", default=OURS, help="any of ours,sdk,naive")
    parser.add_argument("--plot", type=Path, default=Path(".bench/rate.png"), help="where to draw the plot")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="a setting for our containers"
    )
    parser.add_argument("--no-ceiling", action="store_true", help="skip measuring the sandbox's ceiling")
    args = parser.parse_args(argv)
    chosen = MATRIX if args.rows == "all" else [MATRIX[int(n) - 1] for n in args.rows.split(",")]
    print(f"Machine: {Machine.this()}\n", flush=True)
    if not args.no_ceiling:
        accepted, requests, cpu = sandbox_ceiling(
            seconds=5, clients=4, batches=limits.MAX_BATCHES_PER_REQUEST
        )
        print(
            "Sandbox ceiling (own process, 4 clients, 100-batch requests, no limit): "
            f"{accepted:,.0f} batches/s accepted ({requests:,.0f} requests/s, sandbox CPU {cpu:.0%} of a "
            f"core). The rows need {args.rate:g} batches/s.\n",
            flush=True,
        )
    cells, windows, saturated = [], [], []
    for number, row in enumerate(chosen, 1):
        for contender in args.forwarders.split(","):
            # As the template passes them: the account's limit, and MaximumConcurrency as the concurrency.
            env = {
                "ROKT_MAX_BATCHES_PER_SECOND": f"{args.rate:g}",
                "ROKT_CONCURRENCY": str(row.concurrency or row.containers),
                **dict(item.split("=", 1) for item in args.env),
            }
            with BenchStack(*row.sandbox_flags(args.rate, args.latency)) as stack:
                window = measure(
                    stack,
                    contender,
                    row,
                    seconds=args.seconds,
                    warmup=args.warmup,
                    records=args.records,
                    rate=args.rate,
                    env=env if contender == OURS else {},
                )
            label = row.label if contender == OURS else f"{row.label} ({LABELS[contender]})"
            cells.append(window.cells(label))
            if contender == OURS:
                windows.append(window)
            if window.machine_busy >= SATURATED:
                saturated.append(f"row {number}")
            print(f"row {number}/{len(chosen)} done: {' | '.join(cells[-1])}", flush=True)
    notes = [
        f"Sandbox: {args.rate:g} batches/s, token bucket of 1 s, {args.latency * 1000:.0f} ms per answer; "
        f"{args.records}-record invocations of 30 s; window {args.seconds:g} s after {args.warmup:g} s of "
        "warm-up (from the first invocation for a row from idle). Targets: "
        f">= {ROOM_TARGET:.0%} of the room, <= {THROTTLED_TARGET:.0%} answered 429, no record failed, "
        f"the other sender <= {OTHER_TARGET:.0%} answered 429.",
        "CPU busy: all cores of the machine / the sandbox process (share of one core) during the window.",
    ]
    if args.env:
        notes.append("Our containers' settings: " + ", ".join(args.env))
    if saturated:
        notes.append(f"CPU saturated (>= {SATURATED:.0%} busy) during: {'; '.join(saturated)}.")
    header = ["usage header, scenario", "containers", "ROKT_CONCURRENCY", "share of room", "requests 429"]
    header += ["records failed", "other sender 429", "mean invocation s", "CPU busy machine / sandbox"]
    print(Table("Containers at the rate limit, on each model of it", [*header, "targets"], cells, notes))
    if windows and args.plot:
        plot(windows, args.rate, args.plot)
        print(f"\nPlot: {args.plot}")
    return 0
