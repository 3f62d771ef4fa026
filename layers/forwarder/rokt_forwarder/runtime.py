"""The forwarder as wired in a Lambda container: settings read and edges built once per cold start.

The composition root: the one module outside `adapters/` that imports them (and reads os.environ),
since something must hand the core its edges (tests/unit/test_architecture.py allows it by name).
"""

import contextlib
import os

from rokt_forwarder.adapters import metrics, producers, snapstart
from rokt_forwarder.adapters.api import HttpTransport
from rokt_forwarder.adapters.secret import open_secret
from rokt_forwarder.adapters.sqs import Sqs
from rokt_forwarder.config import Settings
from rokt_forwarder.errors import CredentialsError
from rokt_forwarder.invocation import Forwarder
from rokt_forwarder.outage import Outage
from rokt_forwarder.pacing import Pacer
from rokt_forwarder.ports import SystemClock


def create(settings: Settings | None = None) -> Forwarder:
    """Raises ConfigError (naming the variable) when the environment is wrong."""
    settings = settings or Settings.from_env(os.environ)
    sqs = Sqs()
    transport = HttpTransport(settings.api_url, open_secret(settings.secret_id))
    # Read the secret during init (not billed against the first invocation's deadline); if that
    # fails, the first invocation tries again and reports what is wrong.
    with contextlib.suppress(CredentialsError):
        transport.load_credentials()
    clock = SystemClock()
    pacer = None
    if settings.rate_limit > 0:
        pacer = Pacer(settings.rate_limit, settings.concurrency, clock)
    forwarder = Forwarder(
        settings=settings,
        transport=transport,
        clock=clock,
        pacer=pacer,
        outage=Outage(),
        dead_letters=sqs,
        visibility=sqs,
        metrics=metrics.publish,
        mappings=producers.load(settings.producers),
    )
    snapstart.register(forwarder, transport)
    return forwarder
