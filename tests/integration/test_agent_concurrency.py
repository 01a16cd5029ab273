"""Agent turns at once in one worker process: each waits on the model without holding the others."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.http_server import BackgroundServer
from app.model_emulator import ModelEmulator, say
from app.worker.runner import WorkerThread
from tests.conftest import USER

ASKERS = 6


class BarrierModel:
    """Answers no one until ASKERS requests wait at once; after 10 s alone, answers 503 instead."""

    def __init__(self) -> None:
        self.waiting = 0
        self.released_together = False
        self._all_here: asyncio.Event | None = None
        self._completions = ModelEmulator()

    def asgi_app(self) -> Starlette:
        async def completions(request: Request) -> JSONResponse:
            body = await request.json()
            if self._all_here is None:
                self._all_here = asyncio.Event()
            self.waiting += 1
            if self.waiting >= ASKERS:
                self.released_together = True
                self._all_here.set()
            try:
                await asyncio.wait_for(self._all_here.wait(), 10)
            except TimeoutError:
                return JSONResponse({"error": {"message": "alone too long"}}, status_code=503)
            return JSONResponse(self._completions._completion(say("Here you go."), str(body.get("model"))))

        return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


def test_a_worker_process_plays_many_turns_at_once(stack_factory) -> None:
    model = BarrierModel()
    server = BackgroundServer(model.asgi_app(), name="barrier-model").start()
    try:
        stack = stack_factory(worker=False, llm_base_url=f"{server.url}/v1", llm_model="fake-model",
                              llm_breaker_fail_max=100)
        # The main loop and five turn workers: as `acme worker` runs with AGENT_CONCURRENCY=6.
        stack.worker = WorkerThread(stack.collaborators, with_agent_turns=ASKERS - 1).start()
        for n in range(ASKERS):
            body, headers = stack.signer.message_event(f"what can you do? ({n})", channel=f"D0ASKER{n}", user=USER)
            assert stack.http.post("/slack/events", content=body, headers=headers).status_code == 200
        stack.slack.wait_for(lambda calls: len({c.payload["channel"] for c in calls
                                                if "Here you go." in str(c.payload)}) == ASKERS, 30)
        assert model.released_together, "the turns reached the model one after another, not at once"
    finally:
        server.stop()
