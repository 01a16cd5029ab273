"""An ASGI app under uvicorn in a background thread, on a port of its own: for the demo and the tests."""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.types import ASGIApp

# The most a WebSocket client may send in one message: the live API's subscriptions are a few hundred bytes,
# and uvicorn's own cap (16 MiB) let a client make the server read and parse megabytes (found by the
# black-box pass). Past it, the socket is closed with 1009 (message too big).
WS_MAX_MESSAGE_BYTES = 64 * 1024


class BackgroundServer:
    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, name: str = "server") -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                access_log=False, ws_max_size=WS_MAX_MESSAGE_BYTES)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)
        self.host = host
        self.port = port

    def start(self, timeout_s: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self._thread.name} did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
