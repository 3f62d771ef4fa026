"""The Event API key/secret from Secrets Manager, cached per container.

Two ways to read it, chosen at cold start (`open_secret`):

- through the AWS Parameters and Secrets Lambda extension when the function has it: a local HTTP
  call, so boto3 is not imported on the cold path (about half of a cold start);
- otherwise with boto3 through Powertools Parameters.

A re-read after a 401/403 (the secret was rotated) always asks Secrets Manager itself: the extension
would answer from its own cache for up to five minutes. So does the first read after a failed one
(`Recovering`): a secret that was missing or malformed is not kept from its fix by a cache.
"""

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import urllib3
from urllib3.exceptions import HTTPError

from rokt_forwarder.adapters.aws import CALL_SECONDS, client_config
from rokt_forwarder.errors import CredentialsError, DeadlineError
from rokt_forwarder.ports import Credentials, SecretReader

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

# Rotation is caught by a 401/403 (which forces a re-read), so the cache can outlive invocations.
CACHE_SECONDS = 3600
# After a failed read (no secret, no permission, not the JSON it must be), reads fail at once for this
# long, then the next one asks Secrets Manager itself. No longer than the soonest retry of a failed
# record (outcome.RETRY_BASE_SECONDS / 2), so that retry meets a fixed secret; yet a broken secret
# costs one call per container per period, not one per invocation.
RETRY_SECONDS = 15.0
EXTENSION_TIMEOUT_SECONDS = 2.0
# Set by the template when it adds the extension's layer (the extension's own default is 2773).
EXTENSION_PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
EXTENSION_TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 - a header's name


def open_secret(secret_id: str, env: Mapping[str, str] = os.environ) -> "Recovering":
    """The reader for this container: the extension's when it is there, else Secrets Manager's."""
    secrets_manager = SecretsManagerReader(secret_id)
    port = env.get(EXTENSION_PORT_VARIABLE, "").strip()
    if port.isdigit():
        return Recovering(ExtensionReader(secret_id, int(port), secrets_manager=secrets_manager))
    return Recovering(secrets_manager)


class Recovering:
    """A reader that does not keep a failure: it is repeated for RETRY_SECONDS, then read past the caches.

    Powertools caches the value it fetched for CACHE_SECONDS, valid or not, and the extension for up to
    five minutes: without this, a malformed secret fixed in Secrets Manager would go on failing a warm
    container for an hour (only a 401/403 forces a re-read, and nothing is sent without credentials).
    """

    def __init__(self, reader: SecretReader, clock: Callable[[], float] = time.monotonic) -> None:
        self.reader = reader
        self._clock = clock
        self._failed: tuple[float, str] | None = None  # when, and why

    def __call__(self, refresh: bool = False, time_left: float = math.inf) -> Credentials:
        """As the reader; a DeadlineError (no read was started) is not a failure of the secret."""
        if self._failed is not None and not refresh:
            since, why = self._failed
            if self._clock() - since < RETRY_SECONDS:
                raise CredentialsError(why)
            refresh = True
        try:
            credentials = self.reader(refresh, time_left)
        except CredentialsError as error:
            self._failed = (self._clock(), str(error))
            raise
        self._failed = None
        return credentials


class SecretsManagerReader:
    """Reads one secret with boto3 (Powertools Parameters caches it); made once per container."""

    def __init__(self, secret_id: str, provider: "SecretsProvider | None" = None) -> None:
        self.secret_id = secret_id
        self._provider = provider

    def __call__(self, refresh: bool = False, time_left: float = math.inf) -> Credentials:
        """The key/secret, from the cache unless `refresh`; raises CredentialsError, never with the values.

        A read is started only with `time_left` for it (DeadlineError otherwise).
        """
        from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415 - boto3: see aws.py

        if time_left < CALL_SECONDS:
            raise DeadlineError(f"no time left to read secret {self.secret_id}")
        if self._provider is None:
            self._provider = parameters.SecretsProvider(boto_config=client_config())
        try:
            value = self._provider.get(self.secret_id, max_age=CACHE_SECONDS, force_fetch=refresh)
        except parameters.exceptions.GetParameterError as error:
            # Powertools raises without `from`: the AWS error is the context. Its code, not its class:
            # botocore has no class for some codes (AccessDeniedException is a plain ClientError).
            cause = error.__cause__ or error.__context__ or error
            code = getattr(cause, "response", {}).get("Error", {}).get("Code") or type(cause).__name__
            raise CredentialsError(f"cannot read secret {self.secret_id}: {code}") from error
        return _credentials(self.secret_id, value)


class ExtensionReader:
    """Reads one secret from the Parameters and Secrets extension's local endpoint (cached there).

    Secrets Manager itself is asked instead for a re-read after a rotation (the extension would answer
    from its cache), and when the extension cannot be reached at all (not started, or gone).
    """

    def __init__(self, secret_id: str, port: int, *, secrets_manager: SecretReader) -> None:
        self.secret_id = secret_id
        self._pool = urllib3.HTTPConnectionPool("localhost", port, maxsize=1, retries=False)
        self._secrets_manager = secrets_manager

    def __call__(self, refresh: bool = False, time_left: float = math.inf) -> Credentials:
        if refresh:
            return self._secrets_manager(refresh, time_left)
        timeout = min(EXTENSION_TIMEOUT_SECONDS, time_left)
        if timeout <= 0:
            raise DeadlineError(f"no time left to read secret {self.secret_id}")
        started = time.monotonic()
        try:
            response = self._pool.request(
                "GET",
                f"/secretsmanager/get?secretId={quote(self.secret_id, safe='')}",
                headers={EXTENSION_TOKEN_HEADER: os.environ.get("AWS_SESSION_TOKEN", "")},
                timeout=urllib3.Timeout(total=timeout),
            )
        except HTTPError:
            return self._secrets_manager(False, time_left - (time.monotonic() - started))
        if response.status != 200:
            raise self._unreadable(f"the extension answered {response.status}")
        try:
            answer = json.loads(response.data)
        except ValueError:
            raise self._unreadable("the extension's answer is not JSON") from None
        value = answer.get("SecretString") if isinstance(answer, dict) else None
        return _credentials(self.secret_id, value)

    def _unreadable(self, why: str) -> CredentialsError:
        return CredentialsError(f"cannot read secret {self.secret_id}: {why}")


def _credentials(secret_id: str, value: Any) -> Credentials:
    """The key/secret of a SecretString, or CredentialsError naming what is wrong (never a value)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict):
        raise CredentialsError(f"secret {secret_id} is not a JSON object")
    key, secret = value.get("api_key"), value.get("api_secret")
    if not (isinstance(key, str) and key and isinstance(secret, str) and secret):
        raise CredentialsError(f'secret {secret_id} needs non-empty "api_key" and "api_secret"')
    return Credentials(key, secret)
