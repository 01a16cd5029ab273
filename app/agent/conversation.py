"""What a planner sees and says: the request, the tool calls it proposes, their results, its answer."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class ToolCall:
    id: str
    tool: str
    args: dict[str, Any]
    # Why the call cannot be made as proposed (an unknown function, arguments that are not JSON): the
    # planner is told, and may try again.
    problem: str | None = None


@dataclass(frozen=True)
class ToolResult:
    call: ToolCall
    output: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)

    def as_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


@dataclass(frozen=True)
class Answer:
    """The planner's reply. `mrkdwn` is True only for text built here with every outside value escaped;
    anything else (a model's words) is escaped whole before it reaches Slack."""

    text: str
    mrkdwn: bool = False
    usage: Usage = Usage()


@dataclass(frozen=True)
class Calls:
    calls: tuple[ToolCall, ...]
    usage: Usage = Usage()
    # Safe mrkdwn said with a call that waits for approval: what the planner leaves out of it (other customers).
    note: str = ""


PlannerStep = Answer | Calls


@dataclass(frozen=True)
class Turn:
    """One earlier exchange in the conversation: the thread's memory."""

    role: Literal["user", "assistant"]
    text: str
    customer: str | None = None


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class AgentRequest:
    text: str
    channel: str | None = None
    # The thread the conversation is in, if any: posting into another thread acts outside it.
    thread_ts: str | None = None
    # Who asked (a Slack user id), if anyone did in Slack.
    asker: str = ""
    instructions: str = ""
    history: tuple[Turn, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    results: tuple[ToolResult, ...] = field(default_factory=tuple)
    # When the turn must have its answer by (time.monotonic()): a planner that waits (a model) stops in time.
    deadline: float | None = None

    def with_results(self, results: tuple[ToolResult, ...]) -> AgentRequest:
        return replace(self, results=results)


class Planner(Protocol):
    name: str

    def next_step(self, request: AgentRequest) -> PlannerStep:
        """The tool calls to make next, given the results so far; or the answer."""
        ...
