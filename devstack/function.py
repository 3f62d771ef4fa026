"""Cold-start the real Lambda entry point (functions/forwarder/app.py) in this process.

Environment, boto3 clients and the secret cache are what a fresh Lambda container would have.
"""

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not at run time: a cold start must load rokt_forwarder itself
    from rokt_forwarder.ports import Handler

# As template.yaml sets them (a template test keeps them in step): the EMF metrics need both.
SERVICE_NAME = "rokt-event-forwarder"
METRICS_NAMESPACE = "RoktEventForwarder"


type Containers = Callable[[], Handler]


@contextmanager
def containers(root: Path, env: dict[str, str]) -> Iterator[Containers]:
    """`env` on top of os.environ (restored afterwards), and a maker of containers under it.

    Each call cold-starts `app.lambda_handler` anew: its own settings, secret cache and pacer, as
    Lambda gives each concurrent invocation an execution environment of its own. What rokt_forwarder
    holds at import stays shared by the process (api._POOL's connections): the package loads once.
    """
    saved = dict(os.environ)
    function_dir = str(root / "functions" / "forwarder")
    if function_dir not in sys.path:
        sys.path.insert(0, function_dir)
    # LAMBDA_TASK_ROOT as Lambda sets it: the function's code directory, where a ROKT_MAPPING_FILE is.
    os.environ.update(
        {
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LAMBDA_TASK_ROOT": function_dir,
            **env,
        }
    )

    def new_container() -> "Handler":
        sys.modules.pop("app", None)  # importing app again is the cold start: new settings, clients, caches
        try:
            handler: Handler = importlib.import_module("app").lambda_handler
            return handler
        finally:
            sys.modules.pop("app", None)

    try:
        yield new_container
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def cold_start(root: Path, env: dict[str, str]) -> Iterator["Handler"]:
    """One container: `app.lambda_handler` loaded with `env` (see `containers`)."""
    with containers(root, env) as new_container:
        yield new_container()
