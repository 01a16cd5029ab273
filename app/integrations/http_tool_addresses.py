"""Where a registered HTTP tool's connection goes: the host's addresses, resolved once and checked.

The allow-list names hosts, but DNS decides where a name leads, and it may answer differently between a
check and the connection (DNS rebinding): a public name answering 127.0.0.1 or 169.254.169.254 would
reach the machine's own services or the cloud's metadata. So the client resolves the name once, checks
every address, then connects to a checked address itself, sending the name as the Host header and as
TLS SNI (the certificate is verified against the name): what was checked is what is reached.

- An origin written as an IP address leads to that address, without DNS.
- `localhost` and `*.localhost`: loopback addresses only.
- A name public DNS cannot serve (one label, or under .internal, .local, .lan, .corp, .home.arpa,
  .intranet, .private): private addresses too, never loopback, link-local, multicast, reserved or
  unspecified ones.
- Never a cloud metadata service's address (169.254.169.254 and its like), even when written.
- Any other name: public (global) addresses only.
One address that fails refuses the call: a mixed answer is not a normal one.

The name is resolved in each attempt of the call, inside its retries: a resolver that cannot answer now
(EAI_AGAIN) is an outage like a refused connection, retried and counted by the breaker; a name that does
not exist is a refusal.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from app.integrations.http_tool_errors import AddressNotAllowed

PRIVATE_SUFFIXES = (".internal", ".local", ".lan", ".corp", ".home.arpa", ".intranet", ".private")
# Cloud metadata services (AWS, ECS, Alibaba, AWS over IPv6): never, whatever the allow-list says.
METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200",
                                                       "fd00:ec2::254"))
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class NameNotResolvedNow(Exception):
    """The resolver did not answer (a temporary failure): worth trying again, as a refused connection is."""


def _ip(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_allowed(host: str, address: str) -> bool:
    """Whether an origin naming `host` may lead to `address`."""
    ip = _ip(address)
    if ip is None or ip in METADATA:
        return False
    literal = _ip(host)
    if literal is not None:
        return ip == literal
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return ip.is_loopback
    if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return False
    if "." not in host or host.endswith(PRIVATE_SUFFIXES):
        return ip.is_private or ip.is_global
    return ip.is_global


def check_addresses(host: str, addresses: Iterable[str]) -> list[str]:
    """`addresses`, if an origin naming `host` may lead to every one of them."""
    found = list(dict.fromkeys(addresses))
    if not found:
        raise AddressNotAllowed(f"{host} resolves to no address")
    refused = [a for a in found if not address_allowed(host, a)]
    if refused:
        raise AddressNotAllowed(f"{host} resolves to {refused[0]}, an address it may not lead to")
    return found


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses, as the system resolver gives them (an IP address resolves to itself)."""
    if _ip(host) is not None:
        return [host]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise NameNotResolvedNow(f"{host} cannot be resolved now ({exc.strerror or exc})") from None
        raise AddressNotAllowed(f"{host} does not resolve ({exc.strerror or exc})") from None
    except OSError as exc:
        raise NameNotResolvedNow(f"{host} cannot be resolved now ({exc.strerror or exc})") from None
    return [str(info[4][0]) for info in infos]
