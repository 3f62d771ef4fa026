"""The forwarders a benchmark compares, each loaded as a fresh Lambda container would load it.

Loading is split in two steps so a cold start can be told apart: `import_code` (the modules) and
`initialise` (settings, clients, the secret read), which the Lambda init phase runs before the first
invocation. The environment (moto, the sandbox, the secret id) must already be in os.environ.
"""

import contextlib
import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not at run time: only the contender loads its code
    from rokt_forwarder.ports import Handler

ROOT = Path(__file__).resolve().parents[1]
OURS, SDK, NAIVE = "ours", "sdk", "naive"
CONTENDERS = (OURS, SDK, NAIVE)
LABELS = {OURS: "rokt-event-forwarder", SDK: "mParticle SDK forwarder", NAIVE: "naive (1 request/record)"}
# What each contender imports before its init phase: its entry point's dependencies.
_CODE = {
    OURS: ("aws_lambda_powertools", "rokt_forwarder.runtime"),
    SDK: ("bench.baselines",),
    NAIVE: ("bench.baselines",),
}
_BASELINES = {SDK: "SdkForwarder", NAIVE: "NaiveForwarder"}
# Ours stays loaded for the life of the process, as in a Lambda container.
_CONTAINER = contextlib.ExitStack()


def import_code(contender: str) -> None:
    for module in _CODE[contender]:
        importlib.import_module(module)


def initialise(contender: str) -> "Handler":
    """The handler after its init phase; imports whatever import_code has not."""
    if contender == OURS:
        function = importlib.import_module("devstack.function")
        handler: Handler = _CONTAINER.enter_context(function.cold_start(ROOT, {}))
        return handler
    baseline = getattr(importlib.import_module("bench.baselines"), _BASELINES[contender])
    forwarder: Handler = baseline.from_env()
    return forwarder


def load(contender: str) -> "Handler":
    import_code(contender)
    return initialise(contender)
