"""A cold-start child: a fresh interpreter that loads one contender and handles one 1-record event.

    python -m bench.coldstart CONTENDER SPAWNED_AT EVENT_FILE --out result.json

SPAWNED_AT is the parent's time.perf_counter() just before it started this process (the same
monotonic clock on Linux), so the total runs from before the interpreter starts to the end of the
first invocation. Only the standard library and the contenders module load before the contender.
"""

import json
import sys
import time
from pathlib import Path

from bench import contenders
from devstack.context import LocalContext


def main() -> int:
    contender, spawned_at, event_file = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
    out = Path(sys.argv[sys.argv.index("--out") + 1])
    started = time.perf_counter()
    contenders.import_code(contender)
    imported = time.perf_counter()
    handler = contenders.initialise(contender)
    initialised = time.perf_counter()
    response = handler(json.loads(event_file.read_text()), LocalContext.lasting(30))
    done = time.perf_counter()
    out.write_text(
        json.dumps(
            {
                "total": done - spawned_at,
                "imports": imported - started,
                "init": initialised - imported,
                "first_invocation": done - initialised,
                "failed": len(response["batchItemFailures"]),
                "boto3_imported": "boto3" in sys.modules,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
