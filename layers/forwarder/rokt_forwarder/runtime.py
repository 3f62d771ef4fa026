"""The forwarder as wired in a Lambda container: settings read and edges built once per cold start."""

import contextlib

from rokt_forwarder import metrics, producers, snapstart
from rokt_forwarder.api import HttpTransport
from rokt_forwarder.config import Settings
from rokt_forwarder.errors import CredentialsError
from rokt_forwarder.invocation import Forwarder
from rokt_forwarder.outage import Outage
from rokt_forwarder.pacing import Pacer
from rokt_forwarder.ports import SystemClock
from rokt_forwarder.secret import open_secret
from rokt_forwarder.sqs import Sqs


def create(settings: Settings | None = None) -> Forwarder:
    """Raises ConfigError (naming the variable) when the environment is wrong."""
    settings = settings or Settings.from_env()
    sqs = Sqs()
    transport = HttpTransport(settings.api_url, open_secret(settings.secret_id))
    # Read the secret during init (not billed against the first invocation's deadline); if that
    # fails, the first invocation tries again and reports what is wrong.
    with contextlib.suppress(CredentialsError):
        transport.authorize()
    clock = SystemClock()
    pacer = None
    if settings.max_batches_per_second > 0:
        pacer = Pacer(settings.max_batches_per_second, settings.concurrency, clock)
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
