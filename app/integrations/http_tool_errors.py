"""Why a registered HTTP tool's call was refused; each message says why, for whoever asked for it.

    HttpToolRefused
    ├── OriginNotAllowed       the URL is outside every origin of ACME_HTTP_TOOL_HOSTS (or leaves it)
    ├── BadTemplate            the URL template cannot be used as it is written
    │   └── CredentialsInTemplate  it holds a password or a literal token
    ├── UnsafeArgument         an argument would add path segments (/, \\, .., percent-escapes)
    ├── SecretNotAllowed       a header names a setting it may not send (not TOOL_*, or bound elsewhere)
    ├── SecretNotSet           the TOOL_* setting it names is not set
    ├── AddressNotAllowed      the host resolves to an address its origin may not lead to
    └── RedirectNotFollowed    the answer was a redirect; redirects are not followed
"""

from __future__ import annotations


class HttpToolRefused(Exception):
    """A call this client will not make or an answer it will not take."""


class OriginNotAllowed(HttpToolRefused):
    pass


HostNotAllowed = OriginNotAllowed  # the name before the allow-list named origins


class BadTemplate(HttpToolRefused):
    pass


class CredentialsInTemplate(BadTemplate):
    pass


class UnsafeArgument(HttpToolRefused):
    def __init__(self, argument: str, reason: str) -> None:
        super().__init__(f"the argument {argument!r} {reason}")
        self.argument = argument


class SecretNotAllowed(HttpToolRefused):
    pass


class SecretNotSet(HttpToolRefused):
    pass


class AddressNotAllowed(HttpToolRefused):
    pass


class RedirectNotFollowed(HttpToolRefused):
    pass
