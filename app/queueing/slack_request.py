"""What a job is asked to do: ids and the user's words, never secrets or URLs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Origin = Literal["command", "mention", "button", "api", "dm", "thread"]


@dataclass(frozen=True)
class SlackRequest:
    request_id: str
    origin: Origin
    team_id: str
    channel_id: str
    user_id: str
    # Where a mention or a button click is answered: the thread of this message.
    thread_ts: str | None = None
    customer: str | None = None
    # What was said to the agent, as Slack sent it.
    text: str | None = None

    def __post_init__(self) -> None:
        # Slack never sends a NUL, but a signed request can: PostgreSQL would refuse the run's record.
        for name in ("customer", "text"):
            value = getattr(self, name)
            if value and "\x00" in value:
                object.__setattr__(self, name, value.replace("\x00", ""))

    def to_job_args(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_job_args(cls, args: dict[str, Any]) -> SlackRequest:
        return cls(**args)
