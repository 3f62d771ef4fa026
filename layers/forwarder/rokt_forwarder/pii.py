"""Normalise and SHA-256 personal data before it leaves the account (HASH_PII=true).

Normalisation follows Rokt's matching rules (docs/event-api.md, "Hashed personal data", which lists
every field below) so hashes match Rokt's own. Keys match in any case, with or without mParticle's `$`
and separators: `$FirstName`, `first_name` and `firstname` are one field.
"""

import hashlib
import re
from collections.abc import Callable
from typing import Any

from rokt_forwarder import rules
from rokt_forwarder.errors import RefusedError

_PHONE_NOISE = re.compile(r"[\s\-.()]")
_SEPARATORS = re.compile(r"[\s$_\-]")
type Normaliser = Callable[[str], str]


def _trimmed_lower(value: str) -> str:
    return value.strip().lower()


def _phone(value: str) -> str:
    return _PHONE_NOISE.sub("", value.strip())


# User attribute (canonical key) → the hashed attribute's name (None: hashed under its own name).
_ATTRIBUTES: dict[str, tuple[str | None, Normaliser]] = {
    "firstname": ("firstnamesha256", _trimmed_lower),
    **dict.fromkeys(("lastname", "surname"), ("lastnamesha256", _trimmed_lower)),
    **dict.fromkeys(("mobile", "phone", "phonenumber", "mobilenumber"), ("mobilesha256", _phone)),
    **dict.fromkeys(
        ("billingzipcode", "zip", "zipcode", "postcode", "postalcode"), ("billingzipsha256", _trimmed_lower)
    ),
    **dict.fromkeys(("address", "streetaddress", "billingaddress"), (None, _trimmed_lower)),
}
# An email under a user attribute is the user's email identity: it becomes `other`, as `email` does.
_EMAIL_KEYS = frozenset({"email", "emailaddress"})
_PHONE_IDENTITIES = frozenset({"mobilenumber", "phonenumber2", "phonenumber3"})


def canonical(key: str) -> str:
    return _SEPARATORS.sub("", key).lower()


def sha256(normalised: str) -> str:
    """Lowercase hex digest; a value that already is one is kept, so nothing is hashed twice."""
    if rules.sha256_rule(normalised) is None:
        return normalised.lower()
    try:
        return hashlib.sha256(normalised.encode()).hexdigest()
    except UnicodeEncodeError:
        raise RefusedError("text must be valid Unicode (it holds a lone surrogate)") from None


def hash_email(email: str) -> str:
    return sha256(_trimmed_lower(email))


def hash_batch(batch: dict[str, Any]) -> dict[str, Any]:
    """A new batch without raw personal data: known fields hashed, and an email address anywhere hashed.

    Runs after the batch's rules passed, so sections have the shapes rules.py checks.
    """
    batch = {
        key: value if key in ("user_identities", "user_attributes") else _unless_email(value)
        for key, value in batch.items()
    }
    identities = _identities(dict(batch.get("user_identities") or {}))
    attributes: dict[str, Any] = {}
    for name, raw in (batch.get("user_attributes") or {}).items():
        key = canonical(name)
        if key not in _ATTRIBUTES and key not in _EMAIL_KEYS:
            attributes[_unless_email(name)] = _unless_email(raw)
            continue
        value = (raw[0] if raw else None) if isinstance(raw, list) else raw
        if value is None or isinstance(value, bool):
            continue  # nothing personal to send
        if key in _EMAIL_KEYS:
            identities.setdefault("other", hash_email(str(value)))
        else:
            # Numbers too: a zip code sent as 90210 is still personal data.
            hashed_name, normalise = _ATTRIBUTES[key]
            attributes.setdefault(hashed_name or name, sha256(normalise(str(value))))
    if identities:
        batch["user_identities"] = identities
    if attributes:
        batch["user_attributes"] = attributes
    else:
        batch.pop("user_attributes", None)
    return batch


def _identities(identities: dict[str, Any]) -> dict[str, Any]:
    hashed: dict[str, Any] = {}
    email = None
    for key, value in identities.items():
        kind = canonical(key)
        if kind == "email" and isinstance(value, str):
            email = value
        elif kind in _PHONE_IDENTITIES and isinstance(value, str):
            hashed[key] = sha256(_phone(value))
        else:
            hashed[_unless_email(key)] = _unless_email(value)
    if email is not None:
        hashed.setdefault("other", hash_email(email))
    return hashed


def _unless_email(value: Any) -> Any:
    """An email address at any depth, as a value or a key, is hashed like the email identity."""
    if isinstance(value, list):
        return [_unless_email(item) for item in value]
    if isinstance(value, dict):
        return {_unless_email(key): _unless_email(item) for key, item in value.items()}
    if isinstance(value, str) and rules.email_rule(value) is None:
        return hash_email(value)
    return value
