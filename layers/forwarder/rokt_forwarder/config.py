"""Settings from the environment, checked once at cold start.

A bad setting raises ConfigError naming the variable, so the function fails to initialise with one
clear line instead of failing every record.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from rokt_forwarder import limits
from rokt_forwarder.errors import ConfigError

DEFAULT_REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Settings:
    secret_id: str
    api_url: str
    environment: str
    dlq_url: str | None
    hash_pii: bool
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        return cls(
            secret_id=_required(env, "ROKT_SECRET_ID"),
            api_url=_api_url(env),
            environment=_choice(env, "ROKT_ENVIRONMENT", "development", limits.ENVIRONMENTS),
            dlq_url=env.get("DLQ_URL", "").strip() or None,
            hash_pii=_flag(env, "HASH_PII"),
            request_timeout=_positive(env, "ROKT_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT_SECONDS),
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required: the Secrets Manager id or ARN of the Event API key/secret")
    return value


def _choice(
    env: Mapping[str, str], name: str, default: str, allowed: frozenset[str] | tuple[str, ...]
) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(sorted(allowed))}")
    return value


def _api_url(env: Mapping[str, str]) -> str:
    override = env.get("ROKT_API_URL", "").strip().rstrip("/")
    if not override:
        pod = _choice(env, "ROKT_POD", "us1", limits.PODS)
        return f"https://s2s.{pod}.mparticle.com/v2"
    parts = urlsplit(override)
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.path.endswith("/v2"):
        raise ConfigError(f"ROKT_API_URL={override!r} must be an http(s) URL ending in /v2")
    return override


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in ("", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise ConfigError(f"{name}={value!r} must be true or false")


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"{name}={raw!r} must be a positive number of seconds")
    return value
