"""pii: Rokt's normalisation before SHA-256 (docs/event-api.md), and never hashing twice."""

import copy
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rokt_forwarder import pii


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_sha256_is_lowercase_hex() -> None:
    digest = pii.sha256("jane@example.com")
    assert digest == sha("jane@example.com")
    assert len(digest) == 64 and digest == digest.lower()


@pytest.mark.parametrize(
    "email",
    ["jane.doe@example.com", "  jane.doe@example.com  ", "Jane.Doe@Example.COM", "\tJANE.DOE@EXAMPLE.COM\n"],
)
def test_email_is_trimmed_and_lowercased_before_hashing(email: str) -> None:
    assert pii.hash_email(email) == sha("jane.doe@example.com")


def test_email_that_already_is_a_digest_is_not_hashed_again() -> None:
    digest = sha("jane.doe@example.com")
    assert pii.hash_email(digest) == digest
    assert pii.hash_email(f"  {digest.upper()} ") == digest


@given(st.text())
def test_hashing_is_idempotent(text: str) -> None:
    once = pii.sha256(text)
    assert pii.sha256(once) == once
    assert pii.hash_email(pii.hash_email(text)) == pii.hash_email(text)


def attributes(**values: Any) -> dict[str, Any]:
    hashed: dict[str, Any] = pii.hash_batch({"user_attributes": values})["user_attributes"]
    return hashed


@pytest.mark.parametrize(
    ("name", "raw", "hashed_name", "normalised"),
    [
        ("firstname", "  Jane ", "firstnamesha256", "jane"),
        ("firstname", "JOSÉ", "firstnamesha256", "josé"),
        ("lastname", "Van Der Berg", "lastnamesha256", "van der berg"),
        ("billingzipcode", " 90210 ", "billingzipsha256", "90210"),
        ("billingzipcode", "SW1A 1AA", "billingzipsha256", "sw1a 1aa"),
        ("mobile", "3053211654", "mobilesha256", "3053211654"),
        ("mobile", "+1 (323) 867-5309", "mobilesha256", "+13238675309"),
        ("mobile", "305.321.1654", "mobilesha256", "3053211654"),
        ("mobile", " (305) 321-1654 ", "mobilesha256", "3053211654"),
        ("mobile", "+44 20 7946 0958", "mobilesha256", "+442079460958"),
    ],
)
def test_attribute_normalisation(name: str, raw: str, hashed_name: str, normalised: str) -> None:
    assert attributes(**{name: raw}) == {hashed_name: sha(normalised)}


def test_the_two_mobile_formats_of_the_guide_hash_like_their_digits() -> None:
    assert attributes(mobile="+1 (323) 867-5309") == attributes(mobile="+13238675309")
    assert attributes(mobile="305-321-1654") == attributes(mobile="3053211654")


def test_already_hashed_attributes_are_not_hashed_again() -> None:
    digest = sha("jane")
    assert attributes(firstname=digest) == {"firstnamesha256": digest}
    assert attributes(firstname=digest.upper()) == {"firstnamesha256": digest}


def test_other_attributes_are_untouched() -> None:
    assert attributes(firstname="Jane", ipaddress="203.0.113.9", gender="f", dateofbirth="19900131") == {
        "firstnamesha256": sha("jane"),
        "ipaddress": "203.0.113.9",
        "gender": "f",
        "dateofbirth": "19900131",
    }


def test_hash_batch_moves_the_email_into_other() -> None:
    out = pii.hash_batch({"user_identities": {"email": " Jane@Example.com", "customerid": "c"}})
    assert out["user_identities"] == {"customerid": "c", "other": sha("jane@example.com")}


def test_hash_batch_keeps_an_existing_other() -> None:
    given_other = sha("someone@example.com")
    out = pii.hash_batch({"user_identities": {"email": "jane@example.com", "other": given_other}})
    assert out["user_identities"] == {"other": given_other}


def test_hash_batch_without_pii_changes_nothing() -> None:
    batch = {"user_identities": {"customerid": "c"}, "events": [{"event_type": "custom_event"}]}
    assert pii.hash_batch(batch) == batch


def test_hash_batch_returns_a_new_dict_and_leaves_the_input_alone() -> None:
    batch = {
        "user_identities": {"email": "jane@example.com"},
        "user_attributes": {"firstname": "Jane", "mobile": "3053211654"},
        "events": [],
    }
    before = copy.deepcopy(batch)
    out = pii.hash_batch(batch)
    assert out is not batch
    assert batch == before
    assert out["events"] == []


@given(
    first=st.text(min_size=1).filter(str.strip),
    email=st.emails(),
)
def test_no_raw_value_survives(first: str, email: str) -> None:
    out = pii.hash_batch({"user_identities": {"email": email}, "user_attributes": {"firstname": first}})
    assert "email" not in out["user_identities"]
    assert "firstname" not in out["user_attributes"]
    assert out["user_identities"]["other"] == pii.hash_email(email)
    assert out["user_attributes"]["firstnamesha256"] == pii.sha256(first.strip().lower())


@pytest.mark.parametrize("value", [90210, ["Jane", "Janet"]])
def test_non_string_pii_attribute_is_never_sent_raw(value: Any) -> None:
    out = pii.hash_batch({"user_attributes": {"billingzipcode": value, "firstname": value}})
    assert "billingzipcode" not in out.get("user_attributes", {})
    assert "firstname" not in out.get("user_attributes", {})


def test_an_email_used_as_a_key_is_hashed_too() -> None:
    email = "jane@example.com"
    batch = {
        "user_identities": {"customerid": "c", email: "x"},
        "user_attributes": {email: "vip"},
        "events": [{"event_type": "custom_event", "data": {"custom_attributes": {email: 1}}}],
    }
    out = pii.hash_batch(batch)
    assert email not in json.dumps(out)
    assert out["user_attributes"] == {sha(email): "vip"}
    assert out["events"][0]["data"]["custom_attributes"] == {sha(email): 1}


def test_an_email_at_any_depth_of_the_batch_is_hashed() -> None:
    email = "Jane@Example.com"
    batch = {
        "user_identities": {"customerid": "c"},
        "device_info": {"ios_idfv": email},
        "events": [
            {
                "event_type": "commerce_event",
                "data": {
                    "custom_flags": {"contact": [email]},
                    "product_action": {"products": [{"id": "p", "attributes": {"giftee": email}}]},
                },
            }
        ],
    }
    out = pii.hash_batch(batch)
    assert email.lower() not in json.dumps(out).lower()
    assert out["device_info"]["ios_idfv"] == sha("jane@example.com")
    data = out["events"][0]["data"]
    assert data["custom_flags"]["contact"] == [sha("jane@example.com")]
    assert data["product_action"]["products"][0] == {
        "id": "p",
        "attributes": {"giftee": sha("jane@example.com")},
    }


# --- HASH_PII covers free text and any spelling (hardening, second round) ---------------------------


def custom(attributes: dict[str, Any]) -> dict[str, Any]:
    batch = {"events": [{"event_type": "custom_event", "data": {"custom_attributes": attributes}}]}
    hashed: dict[str, Any] = pii.hash_batch(batch)["events"][0]["data"]["custom_attributes"]
    return hashed


@pytest.mark.parametrize(
    "text",
    [
        "Jane Doe <jane.doe@example.com>",
        "ann@example.com,bob@example.org",
        "Mozilla/5.0 (compatible; Bot/2.1; +mailto:crawler.owner@example.com)",
    ],
    ids=["display-name", "list", "user-agent"],
)
def test_a_value_holding_an_email_address_is_hashed_whole(text: str) -> None:
    assert custom({"contact": text}) == {"contact": sha(text.lower())}
    device = pii.hash_batch({"device_info": {"http_header_user_agent": text}})["device_info"]
    assert device == {"http_header_user_agent": sha(text.lower())}


@pytest.mark.parametrize(
    ("name", "raw", "normalised"),
    [
        ("First.Name", " Jane ", "jane"),
        ("full_name", "Jane Doe", "jane doe"),
        ("customer_name", "Jane Doe", "jane doe"),
        ("telephone", "+1 (212) 555-0199", "+12125550199"),
        ("shipping_phone", "212.555.0142", "2125550142"),
        ("Home Phone", 2125550142, "2125550142"),
        ("shipping_address", "12 Elm St", "12 elm st"),
        ("contact_email", "Jane@Example.com", "jane@example.com"),
    ],
)
def test_event_attributes_naming_contact_data_are_hashed_in_any_spelling(
    name: str, raw: Any, normalised: str
) -> None:
    assert custom({name: raw}) == {name: sha(normalised)}


def test_user_attributes_in_other_spellings_are_hashed() -> None:
    assert attributes(**{"First.Name": "Jane", "full_name": "Jane Doe", "telephone": "212 555 0199"}) == {
        "firstnamesha256": sha("jane"),
        "full_name": sha("jane doe"),
        "telephone": sha("2125550199"),
    }


@pytest.mark.parametrize(
    "name",
    [
        "productname",
        "conversiontype",
        "event_name",
        "ipaddress",
        "ip_address",
        "gender",
        "dateofbirth",
        "sku",
    ],
)
def test_keys_that_name_no_contact_data_stay_raw(name: str) -> None:
    assert custom({name: "kept as is"}) == {name: "kept as is"}


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"])
def test_invisible_characters_are_dropped_from_an_email_before_hashing(invisible: str) -> None:
    email = f"jane{invisible}.doe@exam{invisible}ple.com"
    assert pii.hash_email(email) == sha("jane.doe@example.com")
    out = pii.hash_batch({"user_identities": {"email": email}})
    assert out["user_identities"] == {"other": sha("jane.doe@example.com")}


def test_an_upper_case_digest_is_passed_on_lowercased() -> None:
    """Rokt matches lowercase hex: a phone digest (whose normalisation keeps case) must be lowered too."""
    digest = sha("+13238675309")
    assert attributes(mobile=digest.upper()) == {"mobilesha256": digest}
    out = pii.hash_batch({"user_identities": {"mobile_number": digest.upper()}})
    assert out["user_identities"] == {"mobile_number": digest}
    assert pii.sha256(f" {digest.upper()} ") == digest


def test_a_batch_nested_deeper_than_the_wire_allows_raises_recursion_error_not_a_crash() -> None:
    nested: Any = "x"
    for _ in range(1_500):
        nested = {"k": nested}
    with pytest.raises(RecursionError, match="nested too deeply"):
        pii.hash_batch({"events": [], "extra": nested})
