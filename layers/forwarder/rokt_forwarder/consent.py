"""A batch's consent_state, checked against the rules of mParticle's JSON schema for the Events API.

`consent_state` holds `gdpr` (an object of the workspace's consent purposes) and `ccpa` (whose one
purpose is `data_sale_opt_out`). Each purpose is an object with `consented` (true or false) and
`timestamp_unixtime_ms` (an integer), both required, and optionally `document`, `location`,
`hardware_id` and `regulation`; no other key. Sources: the schema
(https://docs.mparticle.com/schema/mparticle.inbound.eventsapi.schema.json, ConsentState) and
https://docs.mparticle.com/guides/consent-management/. The batch passes it through unchanged; this
refuses what the API would, with a reason that names the field and never the value.
"""

from collections.abc import Iterator, Mapping

from rokt_forwarder import reasons

REGULATIONS = ("gdpr", "ccpa")
CCPA_PURPOSE = "data_sale_opt_out"
REQUIRED = ("consented", "timestamp_unixtime_ms")
OPTIONAL = ("document", "location", "hardware_id", "regulation")


def violations(consent_state: object) -> Iterator[tuple[str, str]]:
    """(path, rule) for each broken rule; nothing when the batch has no consent_state."""
    if consent_state is None:
        return
    if not isinstance(consent_state, Mapping):
        yield "consent_state", "must be an object with gdpr and/or ccpa"
        return
    for key, purposes in consent_state.items():
        path = f"consent_state.{reasons.name(key)}"
        if key not in REGULATIONS:
            yield path, "unknown regulation (gdpr or ccpa)"
        elif not isinstance(purposes, Mapping):
            yield path, "must be an object of consent purposes"
        else:
            for purpose, state in purposes.items():
                if key == "ccpa" and purpose != CCPA_PURPOSE:
                    yield f"{path}.{reasons.name(purpose)}", f"the CCPA purpose is {CCPA_PURPOSE}"
                elif not isinstance(purpose, str) or not purpose.strip():
                    yield f"{path}.{reasons.WITHHELD}", "a purpose must have a name"
                else:
                    yield from _purpose(f"{path}.{reasons.name(purpose)}", state)


def _purpose(path: str, state: object) -> Iterator[tuple[str, str]]:
    if not isinstance(state, Mapping):
        yield path, "must be an object with consented and timestamp_unixtime_ms"
        return
    for key in state:
        if key not in REQUIRED and key not in OPTIONAL:
            yield f"{path}.{reasons.name(key)}", "unknown field"
    if not isinstance(state.get("consented"), bool):
        yield f"{path}.consented", "must be true or false"
    timestamp = state.get("timestamp_unixtime_ms")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        yield f"{path}.timestamp_unixtime_ms", "must be an integer (epoch milliseconds)"
    for key in OPTIONAL:
        value = state.get(key)
        if value is not None and not isinstance(value, str):
            yield f"{path}.{key}", "must be a string"
