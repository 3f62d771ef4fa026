"""Normalise and SHA-256 personal data before it leaves the account (HASH_PII=true).

Normalisation follows Rokt's matching rules (docs/event-api.md) so hashes match Rokt's own.
"""

import hashlib
import re
from collections.abc import Callable
from typing import Any

from rokt_forwarder import rules

_PHONE_NOISE = re.compile(r"[\s\-.()]")


def _trimmed_lower(value: str) -> str:
    return value.strip().lower()


def _phone(value: str) -> str:
    return _PHONE_NOISE.sub("", value.strip())


# user attribute → (hashed attribute name, normaliser)
_HASHED_ATTRIBUTES: dict[str, tuple[str, Callable[[str], str]]] = {
    "firstname": ("firstnamesha256", _trimmed_lower),
    "lastname": ("lastnamesha256", _trimmed_lower),
    "billingzipcode": ("billingzipsha256", _trimmed_lower),
    "mobile": ("mobilesha256", _phone),
}


def sha256(normalised: str) -> str:
    """Lowercase hex digest; a value that already is one is kept, so nothing is hashed twice."""
    if rules.sha256_rule(normalised) is None:
        return normalised.lower()
    return hashlib.sha256(normalised.encode()).hexdigest()


def hash_email(email: str) -> str:
    return sha256(_trimmed_lower(email))


def hash_batch(batch: dict[str, Any]) -> dict[str, Any]:
    """Replace the raw email, names, phone and zip of a batch by their hashes (a new dict)."""
    batch = dict(batch)
    identities = dict(batch.get("user_identities") or {})
    email = identities.pop("email", None)
    if isinstance(email, str):
        identities.setdefault("other", hash_email(email))
    if identities:
        batch["user_identities"] = identities
    attributes = dict(batch.get("user_attributes") or {})
    for name, (hashed_name, normalise) in _HASHED_ATTRIBUTES.items():
        value = attributes.pop(name, None)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None and not isinstance(value, bool):
            # Numbers too: a zip code sent as 90210 is still personal data.
            attributes[hashed_name] = sha256(normalise(str(value)))
    if attributes:
        batch["user_attributes"] = attributes
    else:
        batch.pop("user_attributes", None)
    return batch
