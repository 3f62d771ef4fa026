"""The Event API key/secret from Secrets Manager, cached per container by Powertools Parameters."""

from dataclasses import dataclass

from aws_lambda_powertools.utilities import parameters

from rokt_forwarder.delivery import CredentialsError

# Rotation is caught by a 401/403 (which forces a re-read), so the cache can outlive invocations.
CACHE_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str
    api_secret: str

    def __repr__(self) -> str:
        return "Credentials(api_key=***, api_secret=***)"


def read_credentials(secret_id: str, *, refresh: bool = False) -> Credentials:
    """Raises CredentialsError naming the secret and what is wrong, never the values."""
    try:
        value = parameters.get_secret(secret_id, transform="json", max_age=CACHE_SECONDS, force_fetch=refresh)
    except parameters.exceptions.GetParameterError as error:
        raise CredentialsError(
            f"cannot read secret {secret_id}: {type(error.__cause__ or error).__name__}"
        ) from error
    except parameters.exceptions.TransformParameterError:
        raise CredentialsError(f"secret {secret_id} is not a JSON object") from None
    if not isinstance(value, dict):
        raise CredentialsError(f"secret {secret_id} is not a JSON object")
    key, secret = value.get("api_key"), value.get("api_secret")
    if not (isinstance(key, str) and key and isinstance(secret, str) and secret):
        raise CredentialsError(f'secret {secret_id} needs non-empty "api_key" and "api_secret"')
    return Credentials(key, secret)
