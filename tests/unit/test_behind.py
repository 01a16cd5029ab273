"""Work done behind the caller: in order, batched, and all of it done by close()."""

from __future__ import annotations

import threading
import time

from app.runs.behind import Behind


def test_items_are_handled_in_order_in_batches_and_close_handles_the_rest() -> None:
    handled: list[list[int]] = []
    first_taken = threading.Event()
    release = threading.Event()

    def handle(items: list[int]) -> None:
        handled.append(items)
        first_taken.set()
        release.wait(5)

    behind = Behind[int]("test", handle, max_batch=3)
    behind.put(0)
    assert first_taken.wait(5)
    for n in range(1, 8):  # wait while the first is being handled
        behind.put(n)
    release.set()
    behind.close(5)
    assert [n for batch in handled for n in batch] == list(range(8))
    assert handled[0] == [0] and all(len(batch) <= 3 for batch in handled) and len(handled) == 4


def test_a_closed_one_starts_again_when_given_more() -> None:
    handled: list[int] = []
    behind = Behind[int]("test", handled.extend)
    behind.put(1)
    behind.close(5)
    behind.put(2)
    behind.close(5)
    assert handled == [1, 2]


def test_a_lingering_batch_waits_for_others_to_join_it_and_a_close_does_not_wait_out_the_linger() -> None:
    handled: list[list[int]] = []
    behind = Behind[int]("test", handled.append, linger_s=2.0)
    behind.put(0)
    time.sleep(0.2)  # without the linger, 0 is handled alone by now
    behind.put(1)
    behind.put(2)
    done = threading.Event()
    closer = threading.Thread(target=lambda: (behind.close(5), done.set()))
    closer.start()
    assert done.wait(1.5), "close waited out the linger"
    assert handled == [[0, 1, 2]]
