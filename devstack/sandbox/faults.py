"""Injected misbehaviour: scheduled outages and chance faults, drawn so that a seed replays a run."""

import argparse
from enum import StrEnum
from http import HTTPStatus
from typing import Final

from devstack.sandbox.config import SandboxConfig
from devstack.sandbox.replies import RESET_REPLY, error_reply, throttled_headers


class Fault(StrEnum):
    """The values are the keys of ``stats()["faults"]``."""

    OUTAGE = "outage"
    UNAVAILABLE = "503"
    SERVER_ERROR = "500"
    THROTTLED = "429"
    RESET = "reset"
    RESET_AFTER_ACCEPT = "reset_after_accept"
    SLOW = "slow"


FAULT_REPLIES: Final = {
    Fault.OUTAGE: error_reply(HTTPStatus.SERVICE_UNAVAILABLE, "scheduled outage (sandbox)"),
    Fault.UNAVAILABLE: error_reply(HTTPStatus.SERVICE_UNAVAILABLE, "injected fault (sandbox)"),
    Fault.SERVER_ERROR: error_reply(HTTPStatus.INTERNAL_SERVER_ERROR, "injected fault (sandbox)"),
    Fault.THROTTLED: error_reply(
        HTTPStatus.TOO_MANY_REQUESTS, "injected fault (sandbox)", headers=throttled_headers(1)
    ),
    Fault.RESET: RESET_REPLY,
}


def pick_fault(config: SandboxConfig, draw: float, elapsed: float) -> Fault | None:
    """One draw picks at most one fault, so the chances add up and a seed replays the same run."""
    if any(start <= elapsed < end for start, end in config.outages):
        return Fault.OUTAGE
    threshold = 0.0
    for fault, chance in (
        (Fault.UNAVAILABLE, config.p503),
        (Fault.SERVER_ERROR, config.p500),
        (Fault.THROTTLED, config.p429),
        (Fault.RESET, config.p_reset),
    ):
        threshold += chance
        if draw < threshold:
            return fault
    return None


def parse_outage(text: str) -> tuple[float, float]:
    """``START-END`` in seconds after the server starts, e.g. ``5-15``."""
    start, _, end = text.partition("-")
    try:
        window = (float(start), float(end))
    except ValueError:
        window = (-1.0, -1.0)
    if not 0 <= window[0] < window[1]:
        raise argparse.ArgumentTypeError(f"outage must be START-END seconds with START < END, not {text!r}")
    return window
