"""Registered HTTP tools' URLs: a template filled with arguments stays inside its allowed origin.

A template is `scheme://host[:port]/path/{param}?name={param}`: placeholders fill path segments and
query values, never the scheme, host or port. A path argument is the text of (part of) one segment:
it may not hold `/`, `\\`, `..`, be `.` or empty, or hold a percent-escape (`%2f`, `%2e%2e`, `%252f`:
how many times a server decodes is its business, so an escape in a value is refused, not guessed at);
what is left is quoted with `safe=""`. Query values are quoted the same way. Then the filled URL is
parsed again and must still be on the origin, under its path prefix, with no dot segment and no
encoded separator: a last check that does not trust the ones before it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlencode, urlsplit

from app.http_tool_origins import Origin
from app.integrations.http_tool_errors import BadTemplate, CredentialsInTemplate, OriginNotAllowed, UnsafeArgument

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
REDACTED = "[redacted]"
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# Escapes that decode to a separator, a dot or another escape: never in a path we send.
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c|2e|25)", re.IGNORECASE)
# Query parameters whose literal value in a template would be a credential: those go in secret_headers.
_CREDENTIAL_NAME = re.compile(r"token|secret|passw|pwd|api-?_?key|auth(?!ors?$|or_)|signature|credential|session"
                              r"|^sig$|^key$", re.IGNORECASE)


def placeholders(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))


def _port(parts: SplitResult) -> int:
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BadTemplate(f"{parts.netloc!r} has a bad port") from None


def inside(origin: Origin, url: str) -> bool:
    """Whether `url` (a template, or a filled URL) is on `origin` and under its path prefix."""
    parts = urlsplit(url)
    if (parts.scheme, (parts.hostname or "").lower(), _port(parts)) != (origin.scheme, origin.host, origin.port):
        return False
    prefix = origin.path_prefix
    return not prefix or parts.path == prefix or parts.path.startswith(prefix + "/")


def _path_is_plain(path: str) -> bool:
    return not any(segment in (".", "..") or unquote(segment) in (".", "..") or "\\" in segment
                   or _ENCODED_SEPARATOR.search(segment) for segment in path.split("/"))


def _credential_params(query: str) -> list[str]:
    found = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if value and _CREDENTIAL_NAME.search(unquote(name)) and not PLACEHOLDER.fullmatch(value):
            found.append(unquote(name))
    return found


def check_template(template: str, origins: Iterable[Origin]) -> Origin:
    """The allowed origin `template` is inside; raises HttpToolRefused saying why not."""
    parts = urlsplit(template)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadTemplate("url_template must be an absolute http(s) URL")
    if "{" in parts.netloc or "}" in parts.netloc:
        raise OriginNotAllowed("placeholders may appear in the path and query only, never in the host")
    if "@" in parts.netloc:
        raise CredentialsInTemplate("url_template holds credentials (user:password@): send them in "
                                    "secret_headers, from a TOOL_* setting")
    if credentials := _credential_params(parts.query):
        raise CredentialsInTemplate(f"url_template holds a literal credential in {credentials[0]!r}: make it a "
                                    f"{{placeholder}}, or send it in secret_headers from a TOOL_* setting")
    if parts.fragment:
        raise BadTemplate("url_template may not have a #fragment")
    if not _path_is_plain(PLACEHOLDER.sub("x", parts.path)):
        raise BadTemplate("url_template's path may not hold . or .. segments, backslashes or encoded separators")
    for origin in origins:
        if inside(origin, template):
            return origin
    raise OriginNotAllowed(f"{parts.scheme}://{parts.netloc}{PLACEHOLDER.sub('x', parts.path) or '/'} is outside "
                           f"every origin in ACME_HTTP_TOOL_HOSTS")


def mask_credentials(template: str) -> str:
    """`template` as it may be shown: userinfo and literal credentials in the query replaced."""
    parts = urlsplit(template)
    netloc = f"{REDACTED}@{parts.netloc.rpartition('@')[2]}" if "@" in parts.netloc else parts.netloc
    secret = set(_credential_params(parts.query))
    query = "&".join(f"{p.partition('=')[0]}={REDACTED}" if unquote(p.partition("=")[0]) in secret else p
                     for p in parts.query.split("&")) if parts.query else ""
    return parts._replace(netloc=netloc, query=query).geturl()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def path_value(name: str, value: Any) -> str:
    """One path argument, quoted; raises UnsafeArgument when it could reach another path."""
    text = _text(value)
    folded = unicodedata.normalize("NFKC", text)  # servers that fold fullwidth characters see these
    if not text or text == ".":
        raise UnsafeArgument(name, "must not be empty or '.' in a path")
    if any(bad in candidate for candidate in (text, folded) for bad in ("/", "\\", "..")):
        raise UnsafeArgument(name, "may not hold '/', '\\' or '..' in a path")
    if _ESCAPE.search(text) or _ESCAPE.search(folded):
        raise UnsafeArgument(name, "may not hold percent-escapes in a path")
    return quote(text, safe="")


def _query_pairs(args: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for name, value in args.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, (dict, list)):
                raise UnsafeArgument(name, "must be a string, a number, a boolean or a list of them in a query")
            pairs.append((name, _text(item)))
    return pairs


def fill(template: str, args: Mapping[str, Any], *, rest_in_query: bool) -> tuple[str, dict[str, Any]]:
    """The URL, and the arguments no placeholder used (the JSON body, unless `rest_in_query`)."""
    used = placeholders(template)
    parts = urlsplit(template)
    path = PLACEHOLDER.sub(lambda m: path_value(m.group(1), args.get(m.group(1))), parts.path)
    query = PLACEHOLDER.sub(lambda m: quote(_text(args.get(m.group(1))), safe=""), parts.query)
    rest = {name: value for name, value in args.items() if name not in used}
    if rest_in_query and rest:
        query = "&".join(filter(None, [query, urlencode(_query_pairs(rest), quote_via=quote)]))
        rest = {}
    return parts._replace(path=path, query=query).geturl(), rest


def verify(url: str, origins: Iterable[Origin]) -> None:
    """The last check: the filled URL is inside every one of `origins`, with a plain path."""
    parts = urlsplit(url)
    if "@" in parts.netloc or not _path_is_plain(parts.path) or not all(inside(o, url) for o in origins):
        raise OriginNotAllowed(f"the URL {parts.scheme}://{parts.netloc}{parts.path} leaves its allowed origin")
