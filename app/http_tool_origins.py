"""Where registered HTTP tools may go (ACME_HTTP_TOOL_HOSTS) and where each TOOL_* secret may be sent
(ACME_HTTP_TOOL_SECRET_ORIGINS): the settings' text, parsed into origins."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Settings an HTTP tool's header may name: never the app's own secrets.
TOOL_SETTING = re.compile(r"TOOL_[A-Z0-9_]+")


@dataclass(frozen=True)
class Origin:
    """Where HTTP tools may go: scheme, host (lower case, IPv6 unbracketed), port, a path prefix ("" or "/api")."""

    scheme: str
    host: str
    port: int
    path_prefix: str = ""
    bare_host: bool = False  # written as a bare host name (the older form), read as https on 443

    def __str__(self) -> str:
        return f"{self.scheme}://{f'[{self.host}]' if ':' in self.host else self.host}:{self.port}{self.path_prefix}"


def parse_origin(text: str) -> Origin:
    """`scheme://host[:port][/prefix]`, or a bare host meaning `https://host:443`."""
    text = text.strip()
    if "://" not in text:
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", text):
            raise ValueError(f"{text!r} is not an origin: write it as scheme://host[:port][/path-prefix]")
        return Origin("https", text.lower(), 443, "", bare_host=True)
    parts = urlsplit(text)
    prefix = parts.path.rstrip("/")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    if (parts.scheme not in ("http", "https") or not parts.hostname or not port or "@" in parts.netloc
            or parts.query or parts.fragment or re.search(r"[%\\]|(^|/)\.\.?(/|$)", prefix)):
        raise ValueError(f"{text!r} is not an origin: scheme://host[:port][/path-prefix], no credentials or escapes")
    return Origin(parts.scheme, parts.hostname.lower(), port, prefix)


@dataclass(frozen=True)
class HttpToolAllowList:  # ACME_HTTP_TOOL_HOSTS and ACME_HTTP_TOOL_SECRET_ORIGINS, parsed
    origins: tuple[Origin, ...] = ()
    secret_origins: Mapping[str, Origin] = field(default_factory=dict)

    @classmethod
    def parse(cls, origins: str, secret_origins: str) -> HttpToolAllowList:
        bound = {}
        for entry in filter(None, (e.strip() for e in secret_origins.split(","))):
            name, sep, origin = entry.partition("=")
            if not sep or not TOOL_SETTING.fullmatch(name.strip()):
                raise ValueError(f"{entry!r} in ACME_HTTP_TOOL_SECRET_ORIGINS: write TOOL_NAME=scheme://host[:port]")
            bound[name.strip()] = parse_origin(origin)
        return cls(tuple(parse_origin(e) for e in origins.split(",") if e.strip()), bound)
