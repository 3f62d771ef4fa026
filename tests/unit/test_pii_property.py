"""HASH_PII as a property: whatever the message, no contact data it holds reaches the request body.

Contact data (docs/event-api.md, "Hashed personal data"): an email address anywhere (alone, inside a
longer value, as a key, with invisible characters in it), and the value of a key that names a person's
name or phone in any spelling, in user attributes, event attributes and custom flags. Messages go
through batch.prepare, the one path from a record's body to the bytes the API receives.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from literals import NOW_MS

from rokt_forwarder.batch import prepare
from rokt_forwarder.message import FIELDS

# Names and phones are drawn so that a leak is unmistakable: "qz" never occurs in hex or in keys, and
# a phone's ten digits start with 212555, which nothing else in a message holds.
names = st.text("bcdfghjkmnpqrstvwxz", min_size=3, max_size=8).map(lambda s: f"Qz{s}")
phone_digits = st.integers(0, 9999).map(lambda n: f"212555{n:04d}")
PHONE_FORMATS = (
    lambda d: d,
    lambda d: f"+1 ({d[:3]}) {d[3:6]}-{d[6:]}",
    lambda d: f"{d[:3]}.{d[3:6]}.{d[6:]}",
    lambda d: f"{d[:3]} {d[3:6]} {d[6:]}",
    int,
)
NAME_KEYS = (
    *("First.Name", "$FirstName", "first_name", "FIRST NAME", "Last-Name", "$LastName", "surname"),
    *("full_name", "FullName", "customer_name", "billing.last_name", "name", "fname", "Nick Name"),
)
PHONE_KEYS = (
    *("Phone", "$Mobile", "telephone", "shipping_phone", "phone_number", "Mobile Number", "cell"),
    *("fax", "home.phone", "mobile_phone"),
)
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
emails = st.emails().filter(lambda e: len(e) < 200)


@dataclass
class Secrets:
    """What a message holds that must not reach the API as it is."""

    emails: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)


@st.composite
def email_texts(draw: st.DrawFn, secrets: Secrets) -> str:
    """An email address alone, with invisible characters, or inside a display name, a list, a user agent."""
    email = draw(emails)
    secrets.emails.append(email)
    shape = draw(st.sampled_from(["alone", "invisible", "display", "list", "user-agent"]))
    if shape == "invisible":
        local, _, domain = email.partition("@")
        return f"{local}{draw(st.sampled_from(INVISIBLE))}@{domain}"
    if shape == "display":
        name = draw(names)
        secrets.names.append(name)
        return f"{name} <{email}>"
    if shape == "list":
        return f"{email},{draw(emails)}"
    if shape == "user-agent":
        return f"Mozilla/5.0 (compatible; Qzbot/1.0; +mailto:{email})"
    return email


@st.composite
def personal_attributes(draw: st.DrawFn, secrets: Secrets, *, reserved: frozenset[str]) -> dict[str, Any]:
    """Attributes under name, phone and other keys (not `reserved`, which a flat message names itself)."""
    attributes: dict[str, Any] = {"campaign": "spring"}
    for kind in draw(st.lists(st.sampled_from(["name", "phone", "email", "email-key"]), max_size=6)):
        if kind == "name":
            key, value = draw(st.sampled_from(NAME_KEYS)), draw(names)
            secrets.names.append(value)
        elif kind == "phone":
            digits = draw(phone_digits)
            key, value = draw(st.sampled_from(PHONE_KEYS)), draw(st.sampled_from(PHONE_FORMATS))(digits)
            secrets.phones.append(digits)
        elif kind == "email":
            key, value = (
                draw(st.sampled_from(["contact", "note", "referrer", "cc"])),
                draw(email_texts(secrets)),
            )
        else:
            key, value = draw(email_texts(secrets)), 1
        if key not in reserved:
            attributes[key] = value
    return attributes


@st.composite
def conversions(draw: st.DrawFn) -> tuple[dict[str, Any], Secrets]:
    secrets = Secrets()
    message: dict[str, Any] = {"customerid": "c-1", "amount": "19.99", "currency": "USD"}
    if draw(st.booleans()):
        message["email"] = draw(emails)
        secrets.emails.append(message["email"])
    for key in draw(st.lists(st.sampled_from(["firstname", "lastname"]), unique=True)):
        message[key] = draw(names)
        secrets.names.append(message[key])
    if draw(st.booleans()):
        digits = draw(phone_digits)
        message["mobile"] = draw(st.sampled_from(PHONE_FORMATS))(digits)
        secrets.phones.append(digits)
    if draw(st.booleans()):
        message["user_agent"] = draw(email_texts(secrets))
    reserved = frozenset(FIELDS)
    message["user_attributes"] = draw(personal_attributes(secrets, reserved=reserved))
    message["custom_attributes"] = draw(personal_attributes(secrets, reserved=reserved))
    return message, secrets


@st.composite
def full_batches(draw: st.DrawFn) -> tuple[dict[str, Any], Secrets]:
    secrets = Secrets()
    identities: dict[str, Any] = {"customerid": "c-1"}
    if draw(st.booleans()):
        identities["email"] = draw(emails)
        secrets.emails.append(identities["email"])
    if draw(st.booleans()):
        identities["mobile_number"] = draw(st.sampled_from(PHONE_FORMATS[1:4]))(digits := draw(phone_digits))
        secrets.phones.append(digits)
    nothing = frozenset[str]()
    product = {
        "id": "p-1",
        "name": "T-shirt",
        "custom_attributes": draw(personal_attributes(secrets, reserved=nothing)),
    }
    batch = {
        "user_identities": identities,
        "user_attributes": draw(personal_attributes(secrets, reserved=nothing)),
        "device_info": {"http_header_user_agent": draw(email_texts(secrets))},
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "conversion",
                    "custom_attributes": draw(personal_attributes(secrets, reserved=nothing)),
                    "custom_flags": draw(personal_attributes(secrets, reserved=nothing)),
                },
            },
            {
                "event_type": "commerce_event",
                "data": {"product_action": {"action": "purchase", "products": [product]}},
            },
        ],
    }
    return batch, secrets


def assert_nothing_raw(message: dict[str, Any], secrets: Secrets) -> None:
    body = prepare(json.dumps(message), environment="development", hash_pii=True, now_ms=NOW_MS).decode()
    assert "@" not in body, "an email address (or part of one) left raw"
    assert not [name for name in secrets.names if name.lower() in body.lower()]
    assert not [digits for digits in secrets.phones if digits in "".join(c for c in body if c.isdigit())]


@settings(max_examples=300)
@given(conversions())
def test_no_contact_data_of_a_conversion_reaches_the_api(message: tuple[dict[str, Any], Secrets]) -> None:
    assert_nothing_raw(*message)


@settings(max_examples=300)
@given(full_batches())
def test_no_contact_data_of_a_full_batch_reaches_the_api(message: tuple[dict[str, Any], Secrets]) -> None:
    assert_nothing_raw(*message)
