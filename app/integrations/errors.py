"""What can go wrong when we call another system, each error carrying what to tell the user.

    IntegrationError
    ├── DownstreamUnavailable   the circuit breaker is open: we do not even try
    ├── DownstreamFailed        every attempt failed (timeouts, connection errors, 429, 5xx)
    └── DownstreamRejected      the downstream said no (a 4xx other than 429); retrying will not help
"""

from __future__ import annotations


class IntegrationError(Exception):
    def __init__(self, downstream: str, detail: str) -> None:
        super().__init__(f"{downstream}: {detail}")
        self.downstream = downstream
        self.detail = detail

    @property
    def user_message(self) -> str:
        return f"The {self.downstream} failed: {self.detail}."


class DownstreamUnavailable(IntegrationError):
    def __init__(self, downstream: str, retry_in_s: int) -> None:
        super().__init__(downstream, f"circuit breaker open for another {retry_in_s} s")
        self.retry_in_s = retry_in_s

    @property
    def user_message(self) -> str:
        return f"The {self.downstream} is unavailable right now; I will not retry for {self.retry_in_s} s."


class DownstreamFailed(IntegrationError):
    @property
    def user_message(self) -> str:
        return f"The {self.downstream} is unavailable right now ({self.detail}); please try again in a minute."


class DownstreamRejected(IntegrationError):
    def __init__(self, downstream: str, detail: str, status: int | None = None) -> None:
        super().__init__(downstream, detail)
        self.status = status

    @property
    def user_message(self) -> str:
        return f"The {self.downstream} refused the request ({self.detail})."
