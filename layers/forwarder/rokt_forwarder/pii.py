"""Normalise and SHA-256 personal data before it leaves the account (HASH_PII=true).

The promise, stated once in docs/event-api.md ("Hashed personal data"): no contact data leaves raw.
Contact data is recognised two ways, both in time linear in the batch:

- by shape, anywhere in the batch: a string that holds an email address, alone or inside a longer
  text (`Jane <jane@example.com>`, a list of addresses, a user agent), as a value or as a key;
- by key, in attribute maps (`user_attributes`, and every `custom_attributes` / `custom_flags`):
  a key that names a person's name, phone, zip or street address, in any spelling. Keys match in
  any case, without mParticle's `$` and separators: `$FirstName`, `first_name`, `First.Name` and
  `firstname` are one key, and `shipping_phone` or `telephone` name a phone.

Normalisation follows Rokt's matching rules so hashes match Rokt's own: an email loses invisible
(format) characters such as a zero-width space, then it is trimmed and lowercased.
"""

import hashlib
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from rokt_forwarder import rules, wire
from rokt_forwarder.errors import RefusedError

type Normaliser = Callable[[str], str]

# An address inside any text: a character, `@`, then a run (to a space or `@`) with a dot inside it.
# Every string rules.is_email accepts holds one. Linear: each scan after an `@` stops at the next `@`.
_EMAIL_INSIDE = re.compile(r"[^\s@]@[^\s@][^\s@]*?\.[^\s@]")
_NO_SEPARATORS = str.maketrans("", "", "$_-.")
_PHONE_NOISE = str.maketrans("", "", "-.()")
_ATTRIBUTE_MAPS = frozenset({"user_attributes", "custom_attributes", "custom_flags"})


def _trimmed_lower(value: str) -> str:
    return value.strip().lower()


def _visible(text: str) -> str:
    """The text without format characters (Unicode Cf: zero-width space and joiner, BOM, soft hyphen)."""
    if text.isascii():
        return text
    import unicodedata  # noqa: PLC0415 - only for non-ASCII text: most batches never need it

    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def _email(value: str) -> str:
    return _visible(value).strip().lower()


def _phone(value: str) -> str:
    """Digits and a leading `+`: spaces, dashes, dots and parentheses go (`+1 (323) 867-5309`)."""
    return "".join(value.split()).translate(_PHONE_NOISE)


# Keys, canonical, by what they name. A key ending in one of these is that kind of data.
_NAME_ENDINGS = (
    *("firstname", "lastname", "surname", "fullname", "givenname", "familyname", "middlename"),
    *("forename", "maidenname", "nickname"),
)
# "<role>name" names a person too; "name" alone, in an attribute map, is taken for one.
_NAME_ROLES = frozenset(
    {"", "f", "l", "customer", "contact", "billing", "shipping", "recipient", "cardholder", "holder"}
    | {"buyer", "person", "display", "user", "member", "guest", "passenger", "account", "patient"}
)
_PHONE_ENDINGS = ("mobile", "mobilenumber", "mobileno", "cell", "cellnumber", "fax", "faxnumber", "msisdn")
_ZIP_ENDINGS = ("zip", "zipcode", "postcode", "postalcode")
# Not contact data: Rokt reads these as they are (docs/event-api.md).
_NOT_ADDRESSES = ("ipaddress", "macaddress")

# User attributes Rokt matches hashed under its own names (canonical key → name, normaliser).
_ROKT_ATTRIBUTES: dict[str, tuple[str, Normaliser]] = {
    "firstname": ("firstnamesha256", _trimmed_lower),
    **dict.fromkeys(("lastname", "surname"), ("lastnamesha256", _trimmed_lower)),
    **dict.fromkeys(("mobile", "phone", "phonenumber", "mobilenumber"), ("mobilesha256", _phone)),
    **dict.fromkeys(
        ("billingzipcode", "zip", "zipcode", "postcode", "postalcode"), ("billingzipsha256", _trimmed_lower)
    ),
}
# An email under a user attribute is the user's email identity: it becomes `other`, as `email` does.
_EMAIL_KEYS = frozenset({"email", "emailaddress"})
_PHONE_IDENTITIES = frozenset({"mobilenumber", "phonenumber2", "phonenumber3"})


def canonical(key: str) -> str:
    """The key without case, whitespace, `$`, `_`, `-` and `.`: every spelling of one field."""
    return "".join(key.split()).translate(_NO_SEPARATORS).lower()


def personal(key: str) -> Normaliser | None:
    """How to normalise the value of an attribute named `key` before hashing; None: not contact data."""
    key = canonical(key)
    if "email" in key:
        return _email
    if "phone" in key or key.endswith(_PHONE_ENDINGS):
        return _phone
    if key.endswith(_NAME_ENDINGS) or (key.endswith("name") and key[:-4] in _NAME_ROLES):
        return _trimmed_lower
    if key.endswith(_ZIP_ENDINGS):
        return _trimmed_lower
    if "address" in key and not any(other in key for other in _NOT_ADDRESSES):
        return _trimmed_lower
    return None


def holds_email(text: str) -> bool:
    """Whether an email address appears anywhere in the text, alone or among other words."""
    return _EMAIL_INSIDE.search(text) is not None


def sha256(normalised: str) -> str:
    """Lowercase hex digest; a value that already is one is kept, so nothing is hashed twice."""
    if rules.sha256_rule(normalised) is None:
        return normalised.strip().lower()
    try:
        return hashlib.sha256(normalised.encode()).hexdigest()
    except UnicodeEncodeError:
        raise RefusedError("text must be valid Unicode (it holds a lone surrogate)") from None


def hash_email(email: str) -> str:
    return sha256(_email(email))


def hash_batch(batch: dict[str, Any]) -> dict[str, Any]:
    """A new batch without raw contact data (see the module's docstring for what that is).

    Runs after the batch's rules passed, so sections have the shapes rules.py checks. Raises
    RecursionError, as wire.dumps does, for a batch nested deeper than wire.MAX_DEPTH.
    """
    hashed = {
        _scrub(key, 0): value if key in ("user_identities", "user_attributes") else _scrub(value, 1)
        for key, value in batch.items()
    }
    identities = _identities(dict(batch.get("user_identities") or {}))
    attributes: dict[str, Any] = {}
    for name, raw in (batch.get("user_attributes") or {}).items():
        key = canonical(name)
        if key not in _ROKT_ATTRIBUTES and key not in _EMAIL_KEYS:
            attributes.update(_attributes({name: raw}, 2))
            continue
        value = (raw[0] if raw else None) if isinstance(raw, list) else raw
        if value is None or isinstance(value, bool):
            continue  # nothing personal to send
        if key in _EMAIL_KEYS:
            identities.setdefault("other", hash_email(str(value)))
        else:
            # Numbers too: a zip code sent as 90210 is still personal data.
            hashed_name, normalise = _ROKT_ATTRIBUTES[key]
            attributes.setdefault(hashed_name, sha256(normalise(str(value))))
    if identities:
        hashed["user_identities"] = identities
    if attributes:
        hashed["user_attributes"] = attributes
    else:
        hashed.pop("user_attributes", None)
    return hashed


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
            hashed[_scrub(key, 2)] = _scrub(value, 2)
    if email is not None:
        hashed.setdefault("other", hash_email(email))
    return hashed


def _scrub(value: Any, depth: int) -> Any:
    """The value with emails (in strings and keys) and attribute maps' contact data hashed.

    `depth` counts the containers the value is in: past wire.MAX_DEPTH the batch is refused.
    """
    if isinstance(value, str):
        return hash_email(value) if holds_email(value) else value
    if depth > wire.MAX_DEPTH and isinstance(value, list | dict):
        raise RecursionError("nested too deeply")
    if isinstance(value, list):
        return [_scrub(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {
            _scrub(key, depth): _attributes(item, depth + 1)
            if key in _ATTRIBUTE_MAPS and isinstance(item, dict)
            else _scrub(item, depth + 1)
            for key, item in value.items()
        }
    return value


def _attributes(attributes: dict[str, Any], depth: int) -> dict[str, Any]:
    """An attribute map with the values of personal keys hashed, and emails anywhere else."""
    if depth > wire.MAX_DEPTH:
        raise RecursionError("nested too deeply")
    scrubbed: dict[str, Any] = {}
    for name, value in attributes.items():
        normalise = personal(name)
        hashed = _scrub(value, depth + 1) if normalise is None else _hashed(value, normalise, depth + 1)
        scrubbed[_scrub(name, depth)] = hashed
    return scrubbed


def _hashed(value: Any, normalise: Normaliser, depth: int) -> Any:
    """Each string or number in the value, normalised and hashed; booleans and nulls stay."""
    if isinstance(value, str | int | float | Decimal) and not isinstance(value, bool):
        return sha256(normalise(str(value)))
    if depth > wire.MAX_DEPTH and isinstance(value, list | dict):
        raise RecursionError("nested too deeply")
    if isinstance(value, list):
        return [_hashed(item, normalise, depth + 1) for item in value]
    if isinstance(value, dict):
        return {_scrub(key, depth): _hashed(item, normalise, depth + 1) for key, item in value.items()}
    return value
