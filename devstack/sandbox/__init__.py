"""A local Rokt Event API (mParticle S2S HTTP API v2) that keeps the real contract, for integration tests.

It judges batches as the API documents them, independently of the forwarder's own rules
(devstack/oracle.py: mParticle's published JSON schema and the documented limits), answers as
mParticle does (202 with errors for a partly refused bulk request), deduplicates on
``source_request_id``, rate-limits in batches per second (devstack/ratelimit.py) and injects faults on
demand. Run it, then point a sender at the printed URL with key ``sandbox-key`` and secret
``sandbox-secret``::

    python -m devstack.sandbox --port 8765 --p503 0.05 --outage 30-60 --record sent.jsonl

``GET /_sandbox/stats`` returns counters, ``POST /_sandbox/reset`` clears them, and
``POST /_sandbox/credentials`` with ``{"api_key": ..., "api_secret": ...}`` makes those the only
accepted credentials. In tests::

    with Sandbox(SandboxConfig(rate=5, seed=1)) as api:
        ...  # send to api.url
        assert api.accepted_batches() == [...]

Where the real API is silent: more than 100 batches is 400 (413 is kept for bytes); a bulk request
whose batches are all refused is still 202 with errors, as a partly refused one is; an empty bulk array
is 400; a Content-Type other than application/json is 415. The record file (appended to, one JSON line
per accepted batch) embeds each batch's text as sent, so numbers stay exact; a reset leaves it alone.

The modules: ``config`` (SandboxConfig), ``replies`` (Request, Reply, the error shape), ``contract``
(credentials, bodies, the API's wording), ``faults``, ``api`` (Sandbox: every decision), ``server``
(the HTTP side) and ``cli``.
"""

from devstack.sandbox.api import CREDENTIALS, RESET, STATS, Sandbox
from devstack.sandbox.cli import main, options
from devstack.sandbox.config import SandboxConfig
from devstack.sandbox.contract import (
    BULK,
    EVENTS,
    BodyError,
    bulk_message,
    check_auth,
    parse_batches,
    record_line,
)
from devstack.sandbox.faults import Fault, parse_outage, pick_fault
from devstack.sandbox.replies import Reply, Request, error_reply, errors_body, throttled_headers

__all__ = [
    "BULK",
    "CREDENTIALS",
    "EVENTS",
    "RESET",
    "STATS",
    "BodyError",
    "Fault",
    "Reply",
    "Request",
    "Sandbox",
    "SandboxConfig",
    "bulk_message",
    "check_auth",
    "error_reply",
    "errors_body",
    "main",
    "options",
    "parse_batches",
    "parse_outage",
    "pick_fault",
    "record_line",
    "throttled_headers",
]
