"""An OpenAI-compatible Chat Completions API (OpenAI, Ollama, vLLM, a LiteLLM proxy), only through the LLM
downstream: our retries (the client's own are off), breaker and throttle, like every other system we call."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from app.integrations.errors import DownstreamFailed, DownstreamRejected
from app.integrations.resilience import Downstream, RetryableFailure, parse_retry_after

if TYPE_CHECKING:
    import openai


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

    def _openai(self) -> openai.OpenAI:
        # Built on first use: the openai package costs a process about 18 MB and 1.5 s to import, and
        # only a worker talks to the model.
        with self._lock:
            if self._client is None:
                import openai  # noqa: PLC0415

                self._client = openai.OpenAI(
                    base_url=self._base_url, api_key=self._api_key or "not-needed", max_retries=0,
                    timeout=self._downstream.timeout_s,
                    http_client=httpx.Client(transport=self._transport, timeout=self._downstream.timeout_s))
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> ModelReply:
        """One answer of the model; raises IntegrationError when it cannot be had (after retries)."""
        client = self._openai()
        import openai  # noqa: PLC0415 - already imported by _openai()
        from openai.types.chat import ChatCompletion  # noqa: PLC0415

        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if tools:
            body.update(tools=tools, tool_choice="auto")

        def attempt() -> Any:
            try:
                # The client's POST with our body as it is: `chat.completions.create` first walks every
                # parameter through its type transforms, about 10 ms of CPU per call with a dozen tools.
                return client.post("/chat/completions", body=body, cast_to=ChatCompletion)
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
                raise DownstreamRejected(self.name, f"HTTP {exc.status_code}", exc.status_code) from None
            except openai.APIError as exc:
                # A body that is not the API's JSON: worth another try, like a 5xx.
                raise RetryableFailure(f"the answer was not understood ({type(exc).__name__})") from None

        completion = self._downstream.call(attempt)
        return _reply(self.name, completion)


def _reply(downstream: str, completion: Any) -> ModelReply:
    choices = getattr(completion, "choices", None) or []
    if not choices or getattr(choices[0], "message", None) is None:
        raise DownstreamFailed(downstream, "the answer had no message")
    message = choices[0].message
    calls = tuple(
        ModelToolCall(str(call.id or f"call_{n}"), str(call.function.name or ""), str(call.function.arguments or ""))
        for n, call in enumerate(message.tool_calls or []) if getattr(call, "function", None) is not None)
    usage = getattr(completion, "usage", None)
    return ModelReply(message.content, calls, int(getattr(usage, "prompt_tokens", 0) or 0),
                      int(getattr(usage, "completion_tokens", 0) or 0))
