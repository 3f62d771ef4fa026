"""Settings from the environment, checked once at cold start.

A bad setting raises ConfigError naming the variable, so the function fails to initialise with one
clear line instead of failing every record.
"""

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from rokt_forwarder import limits
from rokt_forwarder.errors import ConfigError

DEFAULT_REQUEST_TIMEOUT_SECONDS = 10.0
# template.yaml's default MaximumConcurrency: the number of containers sharing the rate limit.
DEFAULT_CONCURRENCY = 5
# Below this many seconds a request cannot finish: none is started, and no timeout may be set lower.
MIN_REQUEST_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class ProducerSettings:
    """Where a user's own mapping is: producers.py reads it at cold start."""

    mapping_file: str | None = None  # ROKT_MAPPING_FILE: JSON shipped with the function
    mapping_parameter: str | None = None  # ROKT_MAPPING_PARAMETER: an SSM parameter holding it

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "ProducerSettings":
        mapping_file = env.get("ROKT_MAPPING_FILE", "").strip() or None
        mapping_parameter = env.get("ROKT_MAPPING_PARAMETER", "").strip() or None
        if mapping_file and mapping_parameter:
            raise ConfigError("set ROKT_MAPPING_FILE or ROKT_MAPPING_PARAMETER, not both: one mapping source")
        return cls(mapping_file, mapping_parameter)


@dataclass(frozen=True, slots=True)
class Settings:
    secret_id: str
    api_url: str
    environment: str
    dlq_url: str | None
    hash_pii: bool
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    # The account's rate limit in batches per second (0: no pacing), and how many containers share it.
    max_batches_per_second: float = limits.BATCHES_PER_SECOND
    concurrency: int = DEFAULT_CONCURRENCY
    # Producers' own events: ProducerSettings.from_env.
    producers: ProducerSettings = field(default_factory=ProducerSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        return cls(
            secret_id=_required(env, "ROKT_SECRET_ID"),
            api_url=_api_url(env),
            environment=_choice(env, "ROKT_ENVIRONMENT", "development", limits.ENVIRONMENTS),
            dlq_url=env.get("DLQ_URL", "").strip() or None,
            hash_pii=_flag(env, "HASH_PII"),
            request_timeout=_number(
                env,
                "ROKT_REQUEST_TIMEOUT",
                DEFAULT_REQUEST_TIMEOUT_SECONDS,
                least=MIN_REQUEST_SECONDS,
                unit="number of seconds",
            ),
            max_batches_per_second=_number(
                env, "ROKT_MAX_BATCHES_PER_SECOND", limits.BATCHES_PER_SECOND, least=0
            ),
            concurrency=int(
                _number(env, "ROKT_CONCURRENCY", DEFAULT_CONCURRENCY, least=1, unit="whole number")
            ),
            producers=ProducerSettings.from_env(env),
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
    """The pod's URL, or ROKT_API_URL: https (plain http only to loopback or with ROKT_ALLOW_HTTP=true).

    The key/secret travel in every request's Authorization header, so they must not cross a network in
    clear; and the URL is echoed in errors, so it may not carry credentials of its own.
    """
    override = env.get("ROKT_API_URL", "").strip().rstrip("/")
    if not override:
        pod = _choice(env, "ROKT_POD", "us1", limits.PODS)
        return f"https://s2s.{pod}.mparticle.com/v2"
    parts = urlsplit(override)
    if "@" in parts.netloc:
        raise ConfigError(
            "ROKT_API_URL must not hold a user name or password: the key/secret come from the secret"
        )
    shown = _shown(parts)
    if parts.query or parts.fragment or "?" in override or "#" in override:
        raise ConfigError(f"ROKT_API_URL={shown!r} must not have a query or fragment")
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.path.endswith("/v2"):
        raise ConfigError(f"ROKT_API_URL={shown!r} must be an http(s) URL ending in /v2")
    if parts.scheme == "http" and not (_is_loopback(parts.hostname) or _flag(env, "ROKT_ALLOW_HTTP")):
        raise ConfigError(
            f"ROKT_API_URL={shown!r} would send the key/secret in clear: use https, "
            "or set ROKT_ALLOW_HTTP=true for a trusted local endpoint"
        )
    return override


def _shown(parts: SplitResult) -> str:
    """The URL as it may appear in an error: scheme, host, port and path only."""
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if _port(parts) else ''}{parts.path}"


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    import ipaddress  # noqa: PLC0415 - only for a plain-http ROKT_API_URL: keep it off the cold path

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in ("", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise ConfigError(f"{name}={value!r} must be true or false")


def _number(
    env: Mapping[str, str], name: str, default: float, *, least: float, unit: str = "number"
) -> float:
    """A finite number of at least `least`; `unit` "whole number" refuses fractions."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not least <= value < math.inf or (unit == "whole number" and not value.is_integer()):
        raise ConfigError(f"{name}={raw!r} must be a {unit}, at least {least:g}")
    return value
