"""`make bench`: CPU and throughput, cold start and peak memory, each contender in fresh processes.

Every number of a table comes from the same run on the same machine, with the sandbox in its own
process; ratios are against the mParticle SDK forwarder. Targets (docs/benchmarks.md): CPU per
record <= 0.67x the SDK's, cold start <= 0.9x (secret through boto3) and <= 0.5x (through the
Parameters and Secrets extension), peak RSS <= the SDK's.
"""

import io
import json
import pstats
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import lambda_site
from bench.contenders import CONTENDERS, LABELS, OURS, SDK
from bench.events import bodies, sqs_event
from bench.harness import BenchStack, run_child

CPU_TARGET, COLD_TARGET, COLD_EXTENSION_TARGET, RSS_TARGET = 0.67, 0.9, 0.5, 1.0
OURS_EXTENSION = "ours+extension"
PHASES = ("imports", "init", "first_invocation")
POOL = 500  # distinct message bodies the events cycle through (each record still gets its own id)
WARMUP = 500  # records of the invocation that warms a container up before measuring
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


@dataclass(frozen=True)
class Table:
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    notes: Sequence[str] = ()

    def __str__(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.header) + " |"]
        lines.append("|" + "|".join("---" for _ in self.header) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join([*lines, "", *self.notes])


def verdict(ratio: float, target: float) -> str:
    return f"{ratio:.2f}x ({'met' if ratio <= target else 'missed'}: <= {target}x)"


def cpu(stack: BenchStack, *, records: int, repeats: int, profile_dir: Path | None) -> Table:
    pool = bodies(POOL)
    medians: dict[str, tuple[float, float, int]] = {}
    for contender in CONTENDERS:
        stack.sandbox.reset()
        profile = profile_dir / f"{contender}.prof" if profile_dir and contender in (OURS, SDK) else None
        invocations = [WARMUP, *[records] * repeats, *([records] if profile else [])]
        with _events_file([sqs_event(pool, count) for count in invocations]) as events:
            args = ["cpu", contender, str(events), *(["--profile", str(profile)] if profile else [])]
            result = run_child("bench.warm", args, stack.environment())["result"]
        cpu_us = statistics.median(result["cpu_seconds"]) / records * 1e6
        rate = records / statistics.median(result["wall_seconds"])
        medians[contender] = (cpu_us, rate, max(result["failed"]))
    sdk_cpu = medians[SDK][0]
    rows = []
    for contender, (cpu_us, rate, failed) in medians.items():
        ratio = cpu_us / sdk_cpu
        shown = verdict(ratio, CPU_TARGET) if contender == OURS else f"{ratio:.2f}x"
        rows.append([LABELS[contender], f"{rate:,.0f}", f"{cpu_us:.1f}", shown, str(failed)])
    return Table(
        f"Warm {records:,}-record invocation (median of {repeats}; sandbox rate 0, latency 0)",
        ["forwarder", "records/s", "handler-thread CPU µs/record", "CPU vs SDK", "records failed"],
        rows,
    )


def cold_start(stack: BenchStack, *, runs: int, deployed: lambda_site.Deployed | None = None) -> Table:
    """Fresh processes, interleaved. Without `deployed`, with bytecode cached as on a developer's
    machine; with it, each forwarder's code as deployed to Lambda, compiling what it does not ship.
    """
    order = [OURS, OURS_EXTENSION, SDK]
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in order}
    with tempfile.TemporaryDirectory() as directory:
        event_file = Path(directory) / "event.json"
        for round_ in range(runs + 1):  # the first round compiles bytecode and warms the disk cache
            for name in order:
                contender = OURS if name == OURS_EXTENSION else name
                event_file.write_text(json.dumps(sqs_event([_one_body()], 1)))
                before = stack.extension_requests()
                spawned = time.perf_counter()
                env = stack.environment(extension=name == OURS_EXTENSION)
                args = [contender, repr(spawned), str(event_file)]
                code = deployed.path(contender) if deployed else ()
                result = run_child("bench.coldstart", args, env, deployed=code)["result"]
                if result["failed"]:
                    raise RuntimeError(f"{name}: the cold start's record failed, so its time means nothing")
                if name == OURS_EXTENSION and stack.extension_requests() == before:
                    raise RuntimeError(f"{name}: the secret was not read through the extension stand-in")
                if round_:
                    samples[name].append(result)
    sdk_total = statistics.median(s["total"] for s in samples[SDK])
    rows, notes = [], []
    for name in order:
        runs_ = samples[name]
        total = statistics.median(s["total"] for s in runs_)
        parts = [statistics.median(s[key] for s in runs_) * 1000 for key in PHASES]
        label, ratio = _cold_label(name), total / sdk_total
        if name == OURS:
            shown = verdict(ratio, COLD_TARGET)
        elif name == OURS_EXTENSION:
            shown = verdict(ratio, COLD_EXTENSION_TARGET)
        else:
            shown = "1.00x"
        boto3 = "yes" if all(s["boto3_imported"] for s in runs_) else "no"
        rows.append([label, f"{total * 1000:.0f}", *(f"{p:.0f}" for p in parts), boto3, shown])
    if deployed:
        notes.append(
            "As deployed: Lambda's code directories are read-only, so Python compiles at every cold start "
            "what the code does not ship compiled. Our layer ships its bytecode (layers/forwarder/Makefile); "
            "the SDK forwarder's dependencies, packaged by `sam build`, do not; the runtime's boto3 does."
        )
    how = "code as deployed" if deployed else "bytecode cached"
    return Table(
        f"Cold start, {how} (median of {runs} fresh processes each, interleaved)",
        ["forwarder", "total ms", "imports ms", "init + secret ms", "first invocation ms", "boto3", "vs SDK"],
        rows,
        notes,
    )


def _cold_label(name: str) -> str:
    if name == OURS_EXTENSION:
        return f"{LABELS[OURS]}, secret via the extension"
    return f"{LABELS[name]}, secret via boto3"


def _one_body() -> str:
    return json.dumps(
        {"email": "jane@example.com", "amount": "19.99", "currency": "USD", "customerid": "c-1"}
    )


def memory(stack: BenchStack, *, records: int) -> Table:
    peaks: dict[str, dict[str, Any]] = {}
    for contender in CONTENDERS:
        stack.sandbox.reset()
        with _events_file([sqs_event(bodies(POOL), records)]) as events:
            args = ["memory", contender, str(events)]
            peaks[contender] = run_child("bench.warm", args, stack.environment())["result"]
    sdk = peaks[SDK]
    rows = []
    for contender, result in peaks.items():
        process = result["process_peak_kib"] / sdk["process_peak_kib"]
        rise = result["invocation_peak_kib"] - result["rss_before_kib"]
        rows.append(
            [
                LABELS[contender],
                f"{result['process_peak_kib'] / 1024:.0f}",
                verdict(process, RSS_TARGET) if contender == OURS else f"{process:.2f}x",
                f"{result['rss_before_kib'] / 1024:.0f}",
                f"{result['invocation_peak_kib'] / 1024:.0f} (+{rise / 1024:.0f})",
                str(result["failed"]),
            ]
        )
    return Table(
        f"Peak RSS, fresh process, one {records:,}-record invocation",
        ["forwarder", "process peak MiB", "vs SDK", "RSS before MiB", "peak in the invocation MiB", "failed"],
        rows,
        [
            "Process peak = ru_maxrss, what Lambda reports as Max Memory Used; loading the event (the same "
            "for every forwarder) can set it alone. The invocation's own peak is read from a high-water "
            "mark reset just before the call (clear_refs), with its rise over the RSS before."
        ],
    )


@contextmanager
def _events_file(events: list[dict[str, Any]]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "events.json"
        path.write_text(json.dumps(events))
        yield path


def top_functions(profile: Path, *, limit: int = 25) -> str:
    """The heaviest functions of a cProfile dump, by own time and by cumulative time."""
    out = io.StringIO()
    stats = pstats.Stats(str(profile), stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    return "\n".join(line for line in out.getvalue().splitlines() if line.strip())


def import_profile(stack: BenchStack, contender: str, *, limit: int = 15) -> str:
    """`-X importtime` of one cold start: top-level imports by cumulative time, heaviest by own time."""
    with tempfile.TemporaryDirectory() as directory:
        event_file = Path(directory) / "event.json"
        event_file.write_text(json.dumps(sqs_event([_one_body()], 1)))
        args = [contender, repr(time.perf_counter()), str(event_file)]
        flags = ("-X", "importtime")
        stderr = run_child("bench.coldstart", args, stack.environment(), python_flags=flags)["stderr"]
    entries = [
        (int(own), int(cumulative), len(indent), name)
        for own, cumulative, indent, name in _IMPORT_LINE.findall(stderr)
    ]
    top = sorted((e for e in entries if e[2] == 0), key=lambda e: -e[1])[:limit]
    heaviest = sorted(entries, key=lambda e: -e[0])[:limit]
    lines = ["top-level imports by cumulative ms:"]
    lines += [f"  {cumulative / 1000:7.1f}  {name}" for _, cumulative, _, name in top]
    lines += ["heaviest modules by own ms:"]
    lines += [f"  {own / 1000:7.1f}  {name}" for own, _, _, name in heaviest]
    return "\n".join(lines)


def _block(title: str, text: str) -> str:
    return f"### {title}\n\n```text\n{text}\n```\n"


def run(
    sections: Sequence[str],
    *,
    records: int,
    repeats: int,
    cold_runs: int,
    memory_records: int,
    profile_dir: Path | None,
    emit: Callable[[str], None] = print,
) -> None:
    with BenchStack("--rate", "0", "--latency", "0") as stack:
        if "cpu" in sections:
            emit(str(cpu(stack, records=records, repeats=repeats, profile_dir=profile_dir)))
        if "cold" in sections:
            emit(str(cold_start(stack, runs=cold_runs, deployed=lambda_site.deployed())))
            emit(str(cold_start(stack, runs=cold_runs)))
        if "memory" in sections:
            emit(str(memory(stack, records=memory_records)))
        if profile_dir is not None:
            for contender in (OURS, SDK):
                emit(_block(f"-X importtime, {LABELS[contender]}", import_profile(stack, contender)))
            for contender in (OURS, SDK):
                dump = profile_dir / f"{contender}.prof"
                if dump.exists():
                    emit(_block(f"cProfile, {LABELS[contender]}, one warm invocation", top_functions(dump)))
