"""Who a sign-in attempt comes from, for the throttle — never a bucket shared by strangers.

In order:

1. an address forwarded by a **trusted proxy** (``CASELENS_TRUSTED_PROXIES``): the
   ``Forwarded`` or ``X-Forwarded-For`` header is read only when the connection comes from one
   of those proxies, right to left, skipping the trusted hops — so a client cannot name itself;
2. else the browser's **signed device cookie** (:mod:`caselens.access.browser_sessions`);
3. else nothing (``None``): the attempt is throttled per account only.

A direct peer address is not used: every browser on the host (and everyone behind one NAT or
an untrusted proxy) would share it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Longest forwarding header read (a chain of a few proxies is well under this).
MAX_FORWARDED_HEADER = 4096
#: Most hops read from a forwarding header.
MAX_HOPS = 32

_FOR_RE = re.compile(r'(?i)(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]*)')


class TrustedProxiesError(ValueError):
    """The trusted-proxy setting names something that is not an address or network."""


def parse_trusted_proxies(setting: str | None) -> tuple[IPNetwork, ...]:
    """Addresses and networks from a comma-separated setting, e.g. ``127.0.0.1, 10.0.0.0/8``.

    Raises
    ------
    TrustedProxiesError
        Naming the entry that is not an IP address or network.
    """
    networks = []
    for raw in (setting or "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise TrustedProxiesError(
                f"CASELENS_TRUSTED_PROXIES: '{entry[:60]}' is not an IP address or network "
                "(expected e.g. 127.0.0.1, ::1 or 10.0.0.0/8, separated by commas)."
            ) from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address from a header token (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``), or None."""
    token = text.strip().strip('"').strip()
    if token.startswith("["):
        token = token[1:].split("]", 1)[0]
    elif token.count(":") == 1:  # IPv4 with a port
        token = token.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(token)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address, proxies: Iterable[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def is_trusted_proxy(peer: str | None, proxies: tuple[IPNetwork, ...]) -> bool:
    """Whether the connection's peer address is one of the trusted proxies."""
    address = _address(peer or "")
    return address is not None and _trusted(address, proxies)


def _hops(headers: Mapping[str, str]) -> list[str] | None:
    """The forwarded-for chain, nearest hop last; ``Forwarded`` (RFC 7239) before
    ``X-Forwarded-For``. None when there is none or it is too long to be real."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    forwarded = lowered.get("forwarded")
    if forwarded:
        if len(forwarded) > MAX_FORWARDED_HEADER:
            return None
        hops = []
        for element in forwarded.split(","):
            match = _FOR_RE.search(element)
            hops.append(match.group(1) if match else "")
        return hops
    xff = lowered.get("x-forwarded-for")
    if xff:
        if len(xff) > MAX_FORWARDED_HEADER:
            return None
        return xff.split(",")
    return None


def forwarded_client(
    peer: str | None, headers: Mapping[str, str], proxies: tuple[IPNetwork, ...]
) -> str | None:
    """The client address a trusted proxy forwarded, or None.

    ``peer`` is the address the connection comes from. Only when it is a trusted proxy is the
    forwarding header read, from the right: trusted hops are skipped and the first untrusted
    one is the client. A hop that is not an address ends the walk with None (never a guess).
    """
    if not is_trusted_proxy(peer, proxies):
        return None
    hops = _hops(headers)
    if not hops or len(hops) > MAX_HOPS:
        return None
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return None
        if not _trusted(address, proxies):
            return str(address)
    # Every hop is a trusted proxy: the client is the first of them (e.g. a browser on the
    # proxy's own host).
    first = _address(hops[0])
    return str(first) if first is not None else None


def client_identity(
    peer: str | None,
    headers: Mapping[str, str],
    device_id: str | None,
    proxies: tuple[IPNetwork, ...],
) -> str | None:
    """The throttle's client: ``addr:<ip>`` from a trusted proxy, else ``device:<id>`` from a
    verified device cookie, else None (throttle per account only)."""
    address = forwarded_client(peer, headers, proxies)
    if address is not None:
        return f"addr:{address}"
    if device_id:
        return f"device:{device_id}"
    return None
