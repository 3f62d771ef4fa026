"""The Event API key/secret from Secrets Manager, cached per container by Powertools Parameters."""

import math
from dataclasses import dataclass

from aws_lambda_powertools.utilities import parameters

from rokt_forwarder.aws import CALL_SECONDS, CLIENT_CONFIG
from rokt_forwarder.errors import CredentialsError, DeadlineError

# Rotation is caught by a 401/403 (which forces a re-read), so the cache can outlive invocations.
CACHE_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str
    api_secret: str

    def __repr__(self) -> str:
        return "Credentials(api_key=***, api_secret=***)"


class SecretReader:
    """Reads one secret; created once per container so its client and cache are reused."""

    def __init__(self, secret_id: str, provider: parameters.SecretsProvider | None = None) -> None:
        self.secret_id = secret_id
        self._provider = provider or parameters.SecretsProvider(boto_config=CLIENT_CONFIG)

    def __call__(self, refresh: bool = False, time_left: float = math.inf) -> Credentials:
        """The key/secret, from the cache unless `refresh`; raises CredentialsError, never with the values.

        A read goes to Secrets Manager only when the cache is empty or `refresh` is set, and is started
        only with `time_left` for it (DeadlineError otherwise).
        """
        secret_id = self.secret_id
        if time_left < CALL_SECONDS:
            raise DeadlineError(f"no time left to read secret {secret_id}")
        try:
            value = self._provider.get(
                secret_id, transform="json", max_age=CACHE_SECONDS, force_fetch=refresh
            )
        except parameters.exceptions.TransformParameterError:
            raise CredentialsError(f"secret {secret_id} is not a JSON object") from None
        except parameters.exceptions.GetParameterError as error:
            # Powertools raises without `from`: the AWS error is the context.
            cause = error.__cause__ or error.__context__ or error
            raise CredentialsError(f"cannot read secret {secret_id}: {type(cause).__name__}") from error
        if not isinstance(value, dict):
            raise CredentialsError(f"secret {secret_id} is not a JSON object")
        key, secret = value.get("api_key"), value.get("api_secret")
        if not (isinstance(key, str) and key and isinstance(secret, str) and secret):
            raise CredentialsError(f'secret {secret_id} needs non-empty "api_key" and "api_secret"')
        return Credentials(key, secret)
