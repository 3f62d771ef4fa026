"""`make bench-rate`: N warm containers draining a backlog against the API's account rate limit.

Each container is an OS process (multiprocessing, spawn) looping over 100-record events; the
sandbox, in its own process, allows 270 batches/s and answers after 50 ms. After a warm-up, a
window of `--seconds` is measured: the share of the limit reached (batches accepted / (rate x
seconds)), the share of requests answered 429, the records reported failed and the mean invocation
time, for each forwarder and each N. Targets: >= 95 % of the limit, <= 1 % of requests answered 429,
no record reported failed. The sandbox's own ceiling (rate 0) is measured first, so it is known not
to be what limits a run.
"""

import argparse
import json
import multiprocessing
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import urllib3

from devstack.bench import container
from devstack.bench.contenders import LABELS, OURS, SDK
from devstack.bench.events import bodies, sqs_event
from devstack.bench.stack import BenchStack, Machine, MachineCpu, SandboxProcess
from devstack.bench.suite import Table
from devstack.sandbox import SandboxConfig
from rokt_forwarder import limits
from rokt_forwarder.batch import prepare

LIMIT_TARGET, THROTTLED_TARGET = 0.95, 0.01
SATURATED = 0.9  # machine-wide CPU share above which a row says its containers were starved
READY_SECONDS = 180.0  # 50 cold starts on 2 cores take a while


@dataclass(frozen=True)
class Window:
    """What one run did between the end of its warm-up and the end of its measured seconds."""

    containers: int
    seconds: float
    rate: float
    accepted: int
    requests: int
    throttled: int
    invocations: int
    records: int
    failed: int
    mean_invocation: float
    machine_busy: float
    sandbox_cpu: float

    @property
    def limit_share(self) -> float:
        return self.accepted / (self.rate * self.seconds)

    @property
    def throttled_share(self) -> float:
        return self.throttled / max(self.requests, 1)

    def row(self, label: str) -> list[str]:
        met = (
            self.limit_share >= LIMIT_TARGET and self.throttled_share <= THROTTLED_TARGET and self.failed == 0
        )
        return [
            label,
            str(self.containers),
            f"{self.limit_share:.0%}",
            f"{self.throttled_share:.1%}",
            f"{self.failed:,} of {self.records:,}",
            f"{self.mean_invocation:.2f}",
            f"{self.invocations:,}",
            f"{self.machine_busy:.0%} / {self.sandbox_cpu:.0%}",
            "met" if met else "missed",
        ]


def measure(
    stack: BenchStack,
    contender: str,
    containers: int,
    *,
    seconds: float,
    warmup: float,
    records: int,
    rate: float,
    env: dict[str, str],
) -> Window:
    spawn = multiprocessing.get_context("spawn")
    signals = container.Signals(spawn.Queue(), spawn.Event(), spawn.Event(), spawn.Queue())
    ready, go, stop, results = signals.ready, signals.go, signals.stop, signals.results
    environment = {**stack.environment(), **env}
    processes = [
        spawn.Process(
            target=container.run,
            args=(container.Job(contender, environment, records, seed), signals),
            daemon=True,
        )
        for seed in range(containers)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            ready.get(timeout=READY_SECONDS)
        go.set()
        time.sleep(warmup)
        before, machine, sandbox_cpu = stack.sandbox.stats(), MachineCpu(), stack.sandbox.cpu_seconds()
        start = time.monotonic()
        time.sleep(seconds)
        end = time.monotonic()
        after, busy = stack.sandbox.stats(), machine.busy_share()
        sandbox_share = (stack.sandbox.cpu_seconds() - sandbox_cpu) / (end - start)
        stop.set()
        done = [results.get(timeout=READY_SECONDS)[1] for _ in processes]
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
    inside = [run for runs in done for run in runs if start <= run[0] < end]
    return Window(
        containers=containers,
        seconds=end - start,
        rate=rate,
        accepted=_delta(after, before, "batches_accepted") + _delta(after, before, "deduplicated"),
        requests=_delta(after, before, "requests"),
        throttled=after["by_status"].get("429", 0) - before["by_status"].get("429", 0),
        invocations=len(inside),
        records=sum(run[2] for run in inside),
        failed=sum(run[3] for run in inside),
        mean_invocation=statistics.fmean(run[1] for run in inside) if inside else float("nan"),
        machine_busy=busy,
        sandbox_cpu=sandbox_share,
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench-rate BENCH_ARGS=...", description=__doc__)
    parser.add_argument("--containers", default="5,20,50", help="comma-separated N (default 5,20,50)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the window opens")
    parser.add_argument("--records", type=int, default=100, help="records per invocation")
    parser.add_argument("--rate", type=float, default=limits.BATCHES_PER_SECOND, help="the sandbox's limit")
    parser.add_argument("--latency", type=float, default=0.05, help="the sandbox's answer time, seconds")
    parser.add_argument("--forwarders", default=f"{OURS},{SDK}", help="any of ours,sdk,naive")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for our containers; {containers} is replaced by N (repeatable)",
    )
    parser.add_argument("--no-ceiling", action="store_true", help="skip measuring the sandbox's ceiling")
    args = parser.parse_args(argv)
    # As the template passes them: the account's limit, and MaximumConcurrency as the number of sharers.
    defaults = [f"ROKT_MAX_BATCHES_PER_SECOND={args.rate:g}", "ROKT_CONCURRENCY={containers}"]
    settings = dict(item.split("=", 1) for item in [*defaults, *args.env])  # a later --env wins
    print(f"Machine: {Machine.this()}\n", flush=True)
    if not args.no_ceiling:
        accepted, requests, cpu = sandbox_ceiling(
            seconds=5, clients=4, batches=limits.MAX_BATCHES_PER_REQUEST
        )
        _, refusals, refusing_cpu = sandbox_ceiling(
            seconds=5, clients=4, batches=limits.MAX_BATCHES_PER_REQUEST, rate="1"
        )
        print(
            "Sandbox ceiling (own process, 4 clients, 100-batch requests): "
            f"{accepted:,.0f} batches/s accepted "
            f"({requests:,.0f} requests/s, sandbox CPU {cpu:.0%} of a core); {refusals:,.0f} requests/s "
            f"answered 429 (sandbox CPU {refusing_cpu:.0%}). The runs below need {args.rate:g} batches/s.\n",
            flush=True,
        )
    rows, saturated = [], []
    for containers in [int(n) for n in args.containers.split(",")]:
        for contender in args.forwarders.split(","):
            env = {name: value.replace("{containers}", str(containers)) for name, value in settings.items()}
            with BenchStack("--rate", f"{args.rate:g}", "--latency", f"{args.latency:g}") as stack:
                window = measure(
                    stack,
                    contender,
                    containers,
                    seconds=args.seconds,
                    warmup=args.warmup,
                    records=args.records,
                    rate=args.rate,
                    env=env if contender == OURS else {},
                )
            rows.append(window.row(LABELS[contender]))
            if window.machine_busy >= SATURATED:
                saturated.append(f"{LABELS[contender]} x {containers}")
            print(json.dumps({"forwarder": contender, **window.__dict__}), flush=True)
    notes = [
        f"Sandbox: {args.rate:g} batches/s, {args.latency * 1000:.0f} ms per answer; {args.records}-record "
        f"invocations of 30 s; window {args.seconds:g} s after {args.warmup:g} s of warm-up. Targets: "
        f">= {LIMIT_TARGET:.0%} of the limit, <= {THROTTLED_TARGET:.0%} answered 429, no record failed.",
        "CPU busy: all cores of the machine / the sandbox process (share of one core) during the window; "
        "a machine near 100 % means the containers were starved of CPU, not paced by the API.",
        "Our containers' settings ({containers} = N): "
        + ", ".join(f"{name}={value}" for name, value in settings.items()),
    ]
    if saturated:
        notes.append(f"CPU saturated (>= {SATURATED:.0%} busy) during: {'; '.join(saturated)}.")
    header = [
        "forwarder",
        "containers",
        "share of limit",
        "requests 429",
        "records failed",
        "mean invocation s",
    ]
    header += ["invocations", "CPU busy machine / sandbox", "targets"]
    print(Table("Containers at the rate limit", header, rows, notes))
    return 0
