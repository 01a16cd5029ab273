"""HMAC signatures on CRM webhooks: `sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`."""

from __future__ import annotations

import hashlib
import hmac
import time

MAX_CLOCK_SKEW_S = 300


def crm_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def crm_signature_is_valid(secret: str, timestamp: str | None, signature: str | None, body: bytes,
                           now: float | None = None) -> bool:
    """True for a correct signature on a timestamp within five minutes; constant-time comparison."""
    if not timestamp or not signature:
        return False
    try:
        skew = abs((time.time() if now is None else now) - int(timestamp))
    except (ValueError, OverflowError):  # not a number; or hundreds of digits, too large for a float
        return False
    if skew > MAX_CLOCK_SKEW_S:
        return False
    return hmac.compare_digest(crm_signature(secret, timestamp, body), signature)
