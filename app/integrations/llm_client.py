"""An OpenAI-compatible Chat Completions API (OpenAI, Ollama, vLLM, a LiteLLM proxy), only through the LLM
downstream: our retries (the client's own are off), breaker and throttle, like every other system we call."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from app.integrations.errors import DownstreamFailed, DownstreamRejected
from app.integrations.resilience import Downstream, RetryableFailure, parse_retry_after
from app.integrations.whole_answer_deadline import WholeAnswerDeadline
from app.store.json_values import well_formed

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)


# An attempt with less time than this left in its turn is not made: the model could not answer in it.
MIN_ATTEMPT_S = 1.0


@dataclass(frozen=True)
class ModelToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ModelReply:
    text: str | None
    tool_calls: tuple[ModelToolCall, ...]
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LlmClient:
    def __init__(self, *, base_url: str, api_key: str | None, model: str, downstream: Downstream,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.model = model
        self._base_url = base_url
        self._api_key = api_key
        self._downstream = downstream
        self._transport = transport
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._downstream.name

    def prepare(self) -> None:
        """Build the client now, in a worker starting up, rather than in its first asker's turn."""
        self._openai()

    def _openai(self) -> openai.OpenAI:
        # Built on first use, or by prepare(): the openai package costs a process about 18 MB and 1.5 s to
        # import, and only a worker talks to the model.
        with self._lock:
            if self._client is None:
                import openai  # noqa: PLC0415

                self._client = openai.OpenAI(
                    base_url=self._base_url, api_key=self._api_key or "not-needed", max_retries=0,
                    timeout=self._downstream.timeout_s,
                    http_client=httpx.Client(transport=WholeAnswerDeadline(self._transport),
                                             timeout=self._downstream.timeout_s))
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                 deadline: float | None = None) -> ModelReply:
        """One answer of the model; raises IntegrationError when it cannot be had (after retries, or by
        `deadline`, a time.monotonic(): no attempt runs and no retry waits past it)."""
        client = self._openai()
        import openai  # noqa: PLC0415 - already imported by _openai()

        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if tools:
            body.update(tools=tools, tool_choice="auto")
        if deadline is not None and deadline - time.monotonic() < MIN_ATTEMPT_S:
            raise DownstreamFailed(self.name, "no time left in this turn to ask the model")

        def attempt() -> Any:
            asking = client
            if deadline is not None and deadline - time.monotonic() < self._downstream.timeout_s:
                asking = client.with_options(timeout=max(MIN_ATTEMPT_S, deadline - time.monotonic()))
            try:
                # The client's POST with our body as it is, and its answer as JSON: `chat.completions.create`
                # walks every parameter through its type transforms (about 10 ms of CPU with a dozen tools)
                # and builds its models of the answer (about 0.6 ms); we read four fields of it.
                return asking.post("/chat/completions", body=body, cast_to=httpx.Response).json()
            except openai.APITimeoutError:
                raise RetryableFailure("timed out") from None
            except openai.APIConnectionError as exc:
                raise RetryableFailure(f"connection failed: {type(exc.__cause__ or exc).__name__}") from None
            except openai.RateLimitError as exc:
                raise RetryableFailure("HTTP 429", parse_retry_after(exc.response.headers)) from None
            except openai.APIStatusError as exc:
                if exc.status_code >= 500:
                    raise RetryableFailure(f"HTTP {exc.status_code}", parse_retry_after(exc.response.headers)) \
                        from None
                if exc.status_code in (401, 403):
                    # Not the model being down: a setting the operator must fix, said where they look.
                    log.error("the %s refused our credentials (HTTP %s): check LLM_API_KEY", self.name,
                              exc.status_code)
                    raise DownstreamRejected(self.name, f"HTTP {exc.status_code}: it refused our API key",
                                             exc.status_code) from None
                raise DownstreamRejected(self.name, f"HTTP {exc.status_code}", exc.status_code) from None
            except (openai.APIError, ValueError) as exc:
                # A body that is not the API's JSON: worth another try, like a 5xx.
                raise RetryableFailure(f"the answer was not understood ({type(exc).__name__})") from None

        # A retry is made only with an attempt's worth of time left after its wait.
        completion = self._downstream.call(attempt, None if deadline is None else deadline - MIN_ATTEMPT_S)
        return _reply(self.name, well_formed(completion))


def _reply(downstream: str, completion: Any) -> ModelReply:
    choices = completion.get("choices") if isinstance(completion, dict) else None
    message = choices[0].get("message") if isinstance(choices, list) and choices and isinstance(choices[0], dict) \
        else None
    if not isinstance(message, dict):
        raise DownstreamFailed(downstream, "the answer had no message")
    tool_calls = message.get("tool_calls")
    calls = tuple(
        ModelToolCall(str(call.get("id") or f"call_{n}")[:100], str(call["function"].get("name") or ""),
                      _arguments(call["function"].get("arguments")))
        for n, call in enumerate(tool_calls if isinstance(tool_calls, list) else [])
        if isinstance(call, dict) and isinstance(call.get("function"), dict))
    usage = completion.get("usage") if isinstance(completion.get("usage"), dict) else {}
    return ModelReply(_text(message.get("content")), calls, _tokens(usage.get("prompt_tokens")),
                      _tokens(usage.get("completion_tokens")))


# More tokens than any model's window: a count past it is not one.
MAX_TOKENS_COUNTED = 10_000_000


def _tokens(count: Any) -> int:
    """A token count as the server said it, if it is one: a whole number from 0 up; else 0."""
    if isinstance(count, bool) or not isinstance(count, int | float) or count != count:
        return 0
    return int(min(max(count, 0), MAX_TOKENS_COUNTED))


def _arguments(arguments: Any) -> str:
    # OpenAI sends a JSON string; some servers send the object itself.
    if arguments is None:
        return ""
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _text(content: Any) -> str | None:
    # A string, or (some servers) a list of parts of which the text ones count.
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict)) or None
    return str(content)
