"""`make bench` (CPU, cold start, memory), `make bench-rate` (the rate limit), `make bench-outage`.

    python -m bench [--sections cpu,cold,memory] [--profile DIR] ...
    python -m bench rate [--rows 1,3] [--seconds 60] ...
    python -m bench outage [--hours 1,24,36] ...

Benchmark children are spawned from this module; as a package's __main__, multiprocessing does not
import it again in each of them.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import outage, rate, suite
from bench.harness import Machine


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["rate"]:
        return rate.main(argv[1:])
    if argv[:1] == ["outage"]:
        return outage.main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="make bench BENCH_ARGS=...",
        description=suite.__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sections", default="cpu,cold,memory", help="any of cpu,cold,memory")
    parser.add_argument("--records", type=int, default=5000, help="records of the warm invocation")
    parser.add_argument("--repeats", type=int, default=5, help="warm invocations measured per forwarder")
    parser.add_argument("--cold-runs", type=int, default=9, help="fresh processes per forwarder (>= 7)")
    parser.add_argument(
        "--memory-records", type=int, default=10_000, help="records of the invocation whose peak RSS is read"
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="print the cProfile and -X importtime tops"
    )
    args = parser.parse_args(argv)
    print(f"Machine: {Machine.this()}\n", flush=True)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    suite.run(
        args.sections.split(","),
        records=args.records,
        repeats=args.repeats,
        cold_runs=args.cold_runs,
        memory_records=args.memory_records,
        profile_dir=args.profile,
        emit=lambda text: print(text, flush=True),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
