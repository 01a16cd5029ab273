"""Work handed to a thread of its own and done behind the caller, several items at a time, in order."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Behind(Generic[T]):
    """Items put here are handed to `handle` in the order they were put, as many at once as are waiting
    (up to `max_batch`), from a thread started on the first put. With `linger_s`, a batch waits that long
    after its first item for more to join it: fewer, larger batches, each that much later."""

    def __init__(self, name: str, handle: Callable[[list[T]], None], max_batch: int = 100,
                 linger_s: float = 0.0) -> None:
        self._name = name
        self._handle = handle
        self._max_batch = max_batch
        self._linger_s = linger_s
        self._waiting: queue.SimpleQueue[T | None] = queue.SimpleQueue()  # None: stop
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def put(self, item: T) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._handle_all, name=self._name, daemon=True)
                    self._thread.start()
        self._waiting.put(item)

    def close(self, timeout_s: float) -> None:
        """Handle what is still waiting, then stop the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._waiting.put(None)
            thread.join(timeout_s)

    def _handle_all(self) -> None:
        while True:
            batch = [self._waiting.get()]
            until = time.monotonic() + self._linger_s
            while len(batch) < self._max_batch and batch[-1] is not None:
                left = until - time.monotonic()
                try:
                    batch.append(self._waiting.get(timeout=left) if left > 0 else self._waiting.get_nowait())
                except queue.Empty:
                    break
            items = [item for item in batch if item is not None]
            if items:
                self._handle(items)
            if None in batch:
                return
