"""The message: a flat conversion (the integration guide's field names) or a full Event API batch.

Parsing a flat conversion checks each field's type and rule and names every violation at once, so a
producer fixes a bad message in one round. Unknown keys are errors: a typo must not drop data.
"""

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from rokt_forwarder import reasons, rules
from rokt_forwarder.errors import RefusedError

Value = Any
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class Conversion:
    """A flat conversion whose fields passed their rules; values are normalised for the wire."""

    fields: Mapping[str, Value]


@dataclass(frozen=True, slots=True)
class FullBatch:
    """An Event API batch the producer built itself; checked whole once defaults are filled in."""

    batch: dict[str, Any]


Message = Conversion | FullBatch
_Parser = Callable[[Value, int], Value]


def _string(value: Value, _now_ms: int) -> Value:
    # Ids often arrive as JSON numbers; the API wants strings.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _checked(rule: Callable[[object], str | None], normalise: Callable[[str], str] = str.strip) -> _Parser:
    def parse(value: Value, _now_ms: int) -> Value:
        value = normalise(value) if isinstance(value, str) else value
        if violation := rule(value):
            raise ValueError(violation)
        return value

    return parse


def _lower(value: str) -> str:
    return value.strip().lower()


def _upper(value: str) -> str:
    return value.strip().upper()


def _decimal(value: Value, _now_ms: int) -> Value:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError("must be a decimal number")
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("must be a decimal number") from None
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("must be a decimal number")
    return value


def _quantity(value: Value, _now_ms: int) -> Value:
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        try:
            value = int(value)
        except ValueError:  # past int()'s digit limit: in our words, for its message quotes Python's
            raise ValueError(
                f"must be a whole number of at most {sys.get_int_max_str_digits()} digits"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a whole number ≥ 0")
    return value


def _timestamp(value: Value, now_ms: int) -> Value:
    if isinstance(value, int) and not isinstance(value, bool):
        millis = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("must be ISO-8601 or epoch milliseconds") from None
        millis = int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp() * 1000)
    else:
        raise ValueError("must be ISO-8601 or epoch milliseconds")
    if violation := rules.timestamp_rule(millis, now_ms):
        raise ValueError(violation)
    return millis


def _object(value: Value, _now_ms: int) -> Value:
    if not isinstance(value, dict):
        raise ValueError("must be an object")
    return value


# Where each flat field goes is batch.py's business; here only what a valid value is.
IDENTITY_FIELDS: Mapping[str, _Parser] = {
    "email": _checked(rules.email_rule),
    # Rokt matches on lowercase hex digests.
    "other": _checked(rules.sha256_rule, _lower),
    "customerid": _string,
    "rtid": _string,
}
USER_FIELDS: Mapping[str, _Parser] = dict.fromkeys(
    ("firstname", "lastname", "mobile", "ipaddress", "billingzipcode", "dateofbirth", "gender"), _string
)
EVENT_FIELDS: Mapping[str, _Parser] = {
    "amount": _decimal,
    "currency": _checked(rules.currency_rule, _upper),
    "quantity": _quantity,
    "margin": _decimal,
    **dict.fromkeys(
        ("conversiontype", "productname", "sku", "paymenttype", "transactionid", "confirmationref"), _string
    ),
}
OPTION_FIELDS: Mapping[str, _Parser] = {
    "environment": _checked(rules.environment_rule, _lower),
    "timestamp": _timestamp,
    "user_agent": _string,
    "custom_attributes": _object,
    "user_attributes": _object,
    # mParticle's consent object, passed through; batch.py's rules check its parts (consent.py).
    "consent_state": _object,
}
FIELDS: Mapping[str, _Parser] = {**IDENTITY_FIELDS, **USER_FIELDS, **EVENT_FIELDS, **OPTION_FIELDS}


def parse_message(payload: dict[str, Any], *, now_ms: int) -> Message:
    """Classify and check a message; raises RefusedError listing every broken rule."""
    if "events" in payload:
        return FullBatch(payload)
    violations: list[str] = []
    fields: dict[str, Value] = {}
    for key, value in payload.items():
        parser = FIELDS.get(key)
        if parser is None:
            violations.append(f"{reasons.name(key)}: unknown field")
        elif value is not None:
            try:
                fields[key] = parser(value, now_ms)
            except ValueError as error:
                violations.append(f"{key}: {error}")
    for extras, named in (("custom_attributes", EVENT_FIELDS), ("user_attributes", USER_FIELDS)):
        # An extra may not replace a checked field: "amount" in custom_attributes would skip its rule.
        shadowed = [key for key in fields.get(extras, {}) if key in named]
        violations += [f"{extras}.{key}: use the top-level field" for key in shadowed]
    if violations:
        raise RefusedError(reasons.join(violations))
    return Conversion(fields)
