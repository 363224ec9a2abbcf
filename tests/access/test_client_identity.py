"""Who a sign-in attempt comes from: an address only from a trusted proxy (never one a client
names itself), else the signed device cookie, else nobody — never a shared bucket."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caselens.access.browser_sessions import device_id, new_device_cookie, sign_token
from caselens.access.client_identity import (
    MAX_FORWARDED_HEADER,
    TrustedProxiesError,
    client_identity,
    forwarded_client,
    parse_trusted_proxies,
)

LOCAL = parse_trusted_proxies("127.0.0.1, ::1")
KEY = bytes.fromhex("11" * 32)
NOW = dt.datetime(2026, 12, 6, 9, 0)


def test_an_untrusted_peer_cannot_name_its_client():
    headers = {"X-Forwarded-For": "203.0.113.9"}
    assert forwarded_client("198.51.100.1", headers, LOCAL) is None
    assert forwarded_client("127.0.0.1", headers, ()) is None  # no proxy configured


def test_a_trusted_proxy_names_the_client_right_to_left():
    # The client prepended a fake hop; the proxy appended the address it really saw.
    headers = {"X-Forwarded-For": "10.9.9.9, 198.51.100.20"}
    assert forwarded_client("127.0.0.1", headers, LOCAL) == "198.51.100.20"
    chain = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8")
    assert forwarded_client("127.0.0.1", {"x-forwarded-for": "198.51.100.7, 10.1.2.3"}, chain) == (
        "198.51.100.7"
    )


def test_the_forwarded_header_is_read_with_ports_and_ipv6():
    headers = {"Forwarded": 'for=192.0.2.43:4711;proto=https, for="[2001:db8::17]:80"'}
    assert forwarded_client("::1", headers, LOCAL) == "2001:db8::17"
    assert forwarded_client("::ffff:127.0.0.1", {"Forwarded": "for=192.0.2.43"}, LOCAL) == (
        "192.0.2.43"
    )


def test_a_hop_that_is_not_an_address_gives_no_identity_rather_than_a_guess():
    assert forwarded_client("127.0.0.1", {"X-Forwarded-For": "unknown"}, LOCAL) is None
    assert forwarded_client("127.0.0.1", {"Forwarded": "for=_hidden"}, LOCAL) is None
    long_header = {"X-Forwarded-For": "1.2.3.4," * (MAX_FORWARDED_HEADER // 8 + 1)}
    assert forwarded_client("127.0.0.1", long_header, LOCAL) is None


def test_identity_order_proxy_then_device_cookie_then_none():
    device = device_id(KEY, new_device_cookie(KEY, NOW), NOW)
    assert device is not None
    proxied = {"X-Forwarded-For": "198.51.100.20"}
    assert client_identity("127.0.0.1", proxied, device, LOCAL) == "addr:198.51.100.20"
    assert client_identity("127.0.0.1", {}, device, LOCAL) == f"device:{device}"
    assert client_identity("127.0.0.1", {}, None, LOCAL) is None
    # Two browsers on one host are two clients, never one "unknown" bucket.
    other = device_id(KEY, new_device_cookie(KEY, NOW), NOW)
    assert client_identity("127.0.0.1", {}, other, ()) != client_identity(
        "127.0.0.1", {}, device, ()
    )


def test_a_forged_or_foreign_device_cookie_is_no_identity():
    genuine = new_device_cookie(KEY, NOW)
    assert device_id(bytes.fromhex("22" * 32), genuine, NOW) is None  # another server's key
    body, signature = genuine.split(".")
    assert device_id(KEY, body + "." + signature[::-1], NOW) is None
    session_token = sign_token(KEY, "session", {"device": "a" * 32}, NOW + dt.timedelta(hours=1))
    assert device_id(KEY, session_token, NOW) is None  # another purpose
    assert device_id(KEY, genuine, NOW + dt.timedelta(days=401)) is None  # expired


@pytest.mark.parametrize("setting", ["127.0.0.1, localhost", "10.0.0.0/33", "1.2.3.4;5.6.7.8"])
def test_a_bad_trusted_proxy_setting_is_refused_naming_the_entry(setting):
    with pytest.raises(TrustedProxiesError, match="CASELENS_TRUSTED_PROXIES: '"):
        parse_trusted_proxies(setting)


_header_text = st.text(
    alphabet=st.characters(codec="latin-1", exclude_categories=("Cs",)), max_size=300
)


@settings(max_examples=300, deadline=None)
@given(
    peer=st.one_of(st.none(), st.ip_addresses().map(str), _header_text),
    xff=_header_text,
    forwarded=st.one_of(st.none(), _header_text),
)
def test_any_headers_give_an_untrusted_address_or_none_never_an_error(peer, xff, forwarded):
    headers = {"X-Forwarded-For": xff}
    if forwarded is not None:
        headers["Forwarded"] = forwarded
    found = forwarded_client(peer, headers, LOCAL)
    if found is not None:
        address = ipaddress.ip_address(found)  # a real address, in its canonical text
        assert str(address) == found
        assert found in xff or found in (forwarded or "") or address.is_loopback
