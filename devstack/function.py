"""Cold-start the real Lambda entry point (functions/forwarder/app.py) in this process.

Environment, boto3 clients and the secret cache are what a fresh Lambda container would have.
"""

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
# As template.yaml sets them (a template test keeps them in step): the EMF metrics need both.
SERVICE_NAME = "rokt-event-forwarder"
METRICS_NAMESPACE = "RoktEventForwarder"


@contextmanager
def cold_start(root: Path, env: dict[str, str]) -> Iterator[Handler]:
    """`app.lambda_handler` loaded with `env` on top of os.environ, which is restored afterwards."""
    saved = dict(os.environ)
    function_dir = str(root / "functions" / "forwarder")
    if function_dir not in sys.path:
        sys.path.insert(0, function_dir)
    os.environ.update(
        {"POWERTOOLS_SERVICE_NAME": SERVICE_NAME, "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE, **env}
    )
    sys.modules.pop("app", None)  # importing app again is the cold start: new settings, clients, caches
    try:
        yield importlib.import_module("app").lambda_handler
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sys.modules.pop("app", None)
