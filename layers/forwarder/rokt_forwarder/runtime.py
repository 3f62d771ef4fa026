"""The forwarder as wired in a Lambda container: settings read and edges built once per cold start."""

from rokt_forwarder.api import HttpTransport
from rokt_forwarder.config import Settings
from rokt_forwarder.handler import Forwarder
from rokt_forwarder.secret import Credentials, read_credentials


def create(settings: Settings | None = None) -> Forwarder:
    """Raises ConfigError (naming the variable) when the environment is wrong."""
    settings = settings or Settings.from_env()

    def credentials(refresh: bool) -> Credentials:
        return read_credentials(settings.secret_id, refresh=refresh)

    return Forwarder(settings=settings, transport=HttpTransport(settings.api_url, credentials))
