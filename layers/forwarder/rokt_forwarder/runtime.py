"""The forwarder as wired in a Lambda container: settings read and edges built once per cold start."""

import contextlib

from rokt_forwarder import metrics
from rokt_forwarder.api import HttpTransport
from rokt_forwarder.config import Settings
from rokt_forwarder.errors import CredentialsError
from rokt_forwarder.invocation import Forwarder
from rokt_forwarder.secret import SecretReader
from rokt_forwarder.sqs import Sqs


def create(settings: Settings | None = None) -> Forwarder:
    """Raises ConfigError (naming the variable) when the environment is wrong."""
    settings = settings or Settings.from_env()
    sqs = Sqs()
    secret = SecretReader(settings.secret_id)
    # Read the secret during init (not billed against the first invocation's deadline); if that
    # fails, the first request tries again and reports what is wrong.
    with contextlib.suppress(CredentialsError):
        secret()
    return Forwarder(
        settings=settings,
        transport=HttpTransport(settings.api_url, secret),
        dead_letters=sqs,
        visibility=sqs,
        metrics=metrics.publish,
    )
