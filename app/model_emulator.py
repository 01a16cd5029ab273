"""An OpenAI-compatible Chat Completions server on 127.0.0.1, for the tests and benchmarks: it answers as
scripted (tool calls, text, arguments that are not JSON, 429 with Retry-After, 5xx, slow answers, a stream)
and records every request, so the product's own client and integration layer are what is exercised."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass(frozen=True)
class ModelAnswer:
    text: str | None = None
    # (function name, arguments as the model writes them: usually JSON, sometimes not)
    tool_calls: tuple[tuple[str, str], ...] = ()
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    # The answer sent a byte at a time, this long apart: a server that never goes quiet long enough to time out.
    trickle_s: float = 0.0
    raw_body: str | None = None
    prompt_tokens: int = 50
    completion_tokens: int = 10


def say(text: str) -> ModelAnswer:
    return ModelAnswer(text=text)


def call(function: str, arguments: dict[str, Any] | str) -> ModelAnswer:
    return ModelAnswer(tool_calls=((function, arguments if isinstance(arguments, str) else json.dumps(arguments)),))


def fail(status: int, retry_after_s: float | None = None) -> ModelAnswer:
    return ModelAnswer(status=status, headers={"Retry-After": str(retry_after_s)} if retry_after_s else {})


Responder = Callable[[dict[str, Any]], ModelAnswer]


class ModelEmulator:
    """Answers each request with the next scripted answer, or, when the script is empty, `responder`."""

    def __init__(self, responder: Responder | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._script: list[ModelAnswer] = []
        self._responder = responder or (lambda body: say("I have nothing more to say."))
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def then(self, *answers: ModelAnswer) -> ModelEmulator:
        with self._lock:
            self._script.extend(answers)
        return self

    def _next(self, body: dict[str, Any]) -> ModelAnswer:
        with self._lock:
            if self._script:
                return self._script.pop(0)
        return self._responder(body)

    def _completion(self, answer: ModelAnswer, model: str) -> dict[str, Any]:
        n = next(self._ids)
        message: dict[str, Any] = {"role": "assistant", "content": answer.text}
        if answer.tool_calls:
            message["tool_calls"] = [{"id": f"call_{n}_{i}", "type": "function",
                                      "function": {"name": name, "arguments": arguments}}
                                     for i, (name, arguments) in enumerate(answer.tool_calls)]
        return {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "message": message,
                             "finish_reason": "tool_calls" if answer.tool_calls else "stop"}],
                "usage": {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
                          "total_tokens": answer.prompt_tokens + answer.completion_tokens}}

    def asgi_app(self) -> Starlette:
        async def completions(request: Request) -> Response:
            body = json.loads(await request.body() or b"{}")
            with self._lock:
                self.requests.append(body)
                self.headers.append(dict(request.headers))
            answer = self._next(body)
            if answer.delay_s:
                await asyncio.sleep(answer.delay_s)
            if answer.raw_body is not None:
                return Response(answer.raw_body, status_code=answer.status, media_type="application/json")
            if answer.status != 200:
                return JSONResponse({"error": {"message": f"status {answer.status}", "type": "server_error"}},
                                    status_code=answer.status, headers=answer.headers)
            completion = self._completion(answer, str(body.get("model", "")))
            if answer.trickle_s:
                return StreamingResponse(_trickled(json.dumps(completion).encode(), answer.trickle_s),
                                         media_type="application/json")
            if body.get("stream"):
                return StreamingResponse(_as_stream(completion), media_type="text/event-stream")
            return JSONResponse(completion)

        return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


async def _trickled(body: bytes, every_s: float):  # type: ignore[no-untyped-def]
    for n in range(len(body)):
        yield body[n:n + 1]
        await asyncio.sleep(every_s)


async def _as_stream(completion: dict[str, Any]):  # type: ignore[no-untyped-def]
    choice = completion["choices"][0]
    chunk = {**completion, "object": "chat.completion.chunk",
             "choices": [{"index": 0, "delta": choice["message"], "finish_reason": choice["finish_reason"]}]}
    yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"
