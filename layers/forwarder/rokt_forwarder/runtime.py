"""The forwarder as wired in a Lambda container: settings read and edges built once per cold start."""

from rokt_forwarder.api import HttpTransport
from rokt_forwarder.config import Settings
from rokt_forwarder.handler import Forwarder
from rokt_forwarder.secret import SecretReader
from rokt_forwarder.sqs import Sqs


def create(settings: Settings | None = None) -> Forwarder:
    """Raises ConfigError (naming the variable) when the environment is wrong."""
    settings = settings or Settings.from_env()
    sqs = Sqs()
    return Forwarder(
        settings=settings,
        transport=HttpTransport(settings.api_url, SecretReader(settings.secret_id)),
        dead_letter=sqs.dead_letter,
        delay=sqs.delay,
    )
