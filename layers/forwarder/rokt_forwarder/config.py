"""Settings from the environment, checked once at cold start (runtime.py passes it in: pure here).

A bad setting raises ConfigError naming the variable, so the function fails to initialise with one
clear line instead of failing every record.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

from rokt_forwarder import limits
from rokt_forwarder.errors import ConfigError

DEFAULT_REQUEST_TIMEOUT_SECONDS = 10.0
# template.yaml's default MaximumConcurrency: the number of containers sharing the rate limit.
DEFAULT_CONCURRENCY = 5
# Below this many seconds a request cannot finish: none is started, and no timeout may be set lower.
MIN_REQUEST_SECONDS = 0.5
# An mParticle data plan id is a URL-safe slug (https://docs.mparticle.com/guides/data-master/data-planning/).
_PLAN_ID = re.compile(r"[A-Za-z0-9._~-]{1,256}")


@dataclass(frozen=True, slots=True)
class ProducerSettings:
    """Where a user's own mapping is (adapters/producers.py reads it) and the data plan every batch names."""

    mapping_file: str | None = None  # ROKT_MAPPING_FILE: JSON shipped with the function
    mapping_parameter: str | None = None  # ROKT_MAPPING_PARAMETER: an SSM parameter holding it
    data_plan_id: str | None = None  # ROKT_DATA_PLAN_ID: the plan's URL-safe slug
    data_plan_version: int | None = None  # ROKT_DATA_PLAN_VERSION: absent, the latest active version

    @property
    def data_plan(self) -> dict[str, Any] | None:
        """The batch's context.data_plan (mParticle's DataPlanContext), or None without a plan id."""
        if self.data_plan_id is None:
            return None
        plan: dict[str, Any] = {"plan_id": self.data_plan_id}
        if self.data_plan_version is not None:
            plan["plan_version"] = self.data_plan_version
        return plan

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ProducerSettings":
        mapping_file = env.get("ROKT_MAPPING_FILE", "").strip() or None
        mapping_parameter = env.get("ROKT_MAPPING_PARAMETER", "").strip() or None
        if mapping_file and mapping_parameter:
            raise ConfigError("set ROKT_MAPPING_FILE or ROKT_MAPPING_PARAMETER, not both: one mapping source")
        plan_id = env.get("ROKT_DATA_PLAN_ID", "").strip() or None
        if plan_id is not None and not _PLAN_ID.fullmatch(plan_id):
            raise ConfigError(
                f"ROKT_DATA_PLAN_ID={plan_id!r} must be the plan's id: a URL-safe slug such as my_data_plan"
            )
        version = None
        if env.get("ROKT_DATA_PLAN_VERSION", "").strip():
            if plan_id is None:
                raise ConfigError("ROKT_DATA_PLAN_VERSION needs ROKT_DATA_PLAN_ID: a version of which plan?")
            version = int(_number(env, "ROKT_DATA_PLAN_VERSION", 0, least=1, unit="whole number"))
        return cls(mapping_file, mapping_parameter, plan_id, version)


@dataclass(frozen=True, slots=True)
class Settings:
    secret_id: str
    api_url: str
    environment: str
    dlq_url: str | None
    hash_pii: bool
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    # The account's rate limit in batches per second (0: no pacing), and how many containers share it.
    rate_limit: float = limits.RATE_LIMIT
    concurrency: int = DEFAULT_CONCURRENCY
    # The queue's maxReceiveCount: a record failing on that receive is dead-lettered by the function,
    # with its reason, instead of moved by SQS without one. None: not known, SQS moves it.
    max_receive_count: int | None = None
    # Producers' own events and data plans: ProducerSettings.from_env.
    producers: ProducerSettings = field(default_factory=ProducerSettings)

    @property
    def api_host(self) -> str:
        return endpoint(self.api_url)

    @property
    def data_plan(self) -> dict[str, Any] | None:
        return self.producers.data_plan

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
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
            rate_limit=_rate_limit(env),
            concurrency=int(
                _number(env, "ROKT_CONCURRENCY", DEFAULT_CONCURRENCY, least=1, unit="whole number")
            ),
            max_receive_count=int(_number(env, "ROKT_MAX_RECEIVE_COUNT", 0, least=1, unit="whole number"))
            or None,
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


def _rate_limit(env: Mapping[str, str]) -> float:
    """0 (no pacing) or at least 1 batch a second: a smaller share would round to nothing."""
    name = "ROKT_MAX_BATCHES_PER_SECOND"
    limit = _number(env, name, limits.RATE_LIMIT, least=0)
    if 0 < limit < 1:
        raise ConfigError(f"{name}={env[name].strip()!r} must be 0 (no pacing) or at least 1")
    return limit


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
    if ":" in parts.netloc.rsplit("]", 1)[-1] and not _port(parts):
        raise ConfigError(f"ROKT_API_URL={shown!r} must have a port from 1 to 65535, or none")
    if parts.scheme == "http" and not (_is_loopback(parts.hostname) or _flag(env, "ROKT_ALLOW_HTTP")):
        raise ConfigError(
            f"ROKT_API_URL={shown!r} would send the key/secret in clear: use https, "
            "or set ROKT_ALLOW_HTTP=true for a trusted local endpoint"
        )
    return override


def endpoint(url: str) -> str:
    """The host (and a port the URL gives) that failures and the outage warning name: never a user,
    password or path, so never a credential, whatever the URL holds."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if (port := _port(parts)) else host


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
