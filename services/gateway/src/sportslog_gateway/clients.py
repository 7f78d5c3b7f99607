"""Who the client is: the socket peer, unless that peer is a trusted proxy (TRUSTED_PROXIES);
then the rightmost X-Forwarded-For hop that is not a trusted proxy."""

from __future__ import annotations

import ipaddress

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(value: str) -> list[Network]:
    return [
        ipaddress.ip_network(part.strip(), strict=False)
        for part in value.split(",")
        if part.strip()
    ]


def _trusted(address: str, trusted: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_ip(request: Request, trusted: list[Network]) -> str:
    peer = request.client.host if request.client else "unknown"
    if not _trusted(peer, trusted):
        return peer  # a client's own X-Forwarded-For is never believed
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer
