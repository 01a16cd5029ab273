"""`acme worker --processes N`: N worker processes under one command, each replaced when it dies.

Each child is a fresh interpreter running one worker (`acme worker --processes 1`), started with
fork+exec by subprocess: it inherits nothing but the environment and stderr, and builds its own
collaborators, so no connection, lock or thread crosses a fork. The supervisor builds none at all.
Each child leads a process group of its own: a stop reaches it once, from here (not a second time
from the terminal), and whatever it forked (RQ's scheduler) is stopped with it, even after a SIGKILL.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger(__name__)

# A child that ran this long was healthy: it is replaced at once, and its slot's crash count starts again.
HEALTHY_AFTER_S = 10.0
BACKOFF_MAX_S = 30.0
# After a cold stop, how long a child has to queue its job again before it is killed.
COLD_GRACE_S = 5.0
# RQ ignores a second stop signal within 1 s of the first (it takes it for the terminal's copy).
RQ_REPEAT_WINDOW_S = 1.1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

RUNNING, WARM, COLD, KILL = range(4)


def restart_delay(quick_deaths: int) -> float:
    """How long to wait before replacing a child that died soon after starting, `quick_deaths` times in a row.

    The first is replaced at once; then 1, 2, 4 ... 30 s, so that a crash loop costs little CPU.
    """
    if quick_deaths <= 1:
        return 0.0
    return min(BACKOFF_MAX_S, 2.0 ** (quick_deaths - 2))


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"


@dataclass
class _Slot:
    """One of the N places a child runs in, across its successive processes."""

    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_deaths: int = 0
    replace_at: float | None = None  # a replacement is due then
    replacing: int | None = None  # the pid it replaces, for the log
    finished: bool = False


class Supervisor:
    """Runs `command` in `processes` children until stopped (or, with `burst`, until each has finished).

    A stop signal asks each child for RQ's warm shutdown (finish the job in flight, take no other); a second
    one, or `stop_timeout_s` later, a cold shutdown (the job in flight stops and is queued again); a
    third, or COLD_GRACE_S later, SIGKILL.
    """

    def __init__(self, command: list[str], processes: int, *, burst: bool, stop_timeout_s: float) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, not {processes}")
        self._command = command
        self._slots = [_Slot() for _ in range(processes)]
        self._burst = burst
        self._stop_timeout_s = stop_timeout_s
        self._signals: list[int] = []
        self._asked = RUNNING  # the stop level asked for, by signals or deadlines
        self._done = RUNNING  # the stop level carried out
        self._level_at = 0.0  # when the current level was carried out
        self._failed = False
        self._killed = False

    def run(self) -> int:
        """Supervise until done; the exit code: 0, or 1 when a burst child failed or a child had to be killed."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        os.set_blocking(wake_read, False)
        previous = {sig: signal.signal(sig, self._on_stop_signal) for sig in STOP_SIGNALS}
        previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, _wake_only)
        previous_wakeup = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        try:
            for slot in self._slots:
                self._start(slot)
            log.info("supervising %d worker processes: %s%s", len(self._slots),
                     ", ".join(str(s.process.pid) for s in self._slots if s.process),
                     " (burst: each exits when the queues are empty)" if self._burst else "")
            while not self._finished():
                self._wait(wake_read, self._next_deadline())
                self._take_signals()
                self._reap()
                self._escalate()
                self._replace_due()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(wake_read)
            os.close(wake_write)
        log.info("all worker processes have stopped")
        return 1 if self._failed or self._killed else 0

    # --- children -------------------------------------------------------------------------------------

    def _start(self, slot: _Slot) -> None:
        now = time.monotonic()
        try:
            slot.process = subprocess.Popen(self._command, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:  # out of processes or memory: try again later, as for a crash
            slot.quick_deaths += 1
            slot.replace_at = now + max(1.0, restart_delay(slot.quick_deaths))
            log.error("could not start a worker process (%s); trying again in %.0f s", exc, slot.replace_at - now)
            return
        slot.started_at, slot.replace_at = now, None
        if slot.replacing is not None:
            log.info("worker process %d started in place of %d", slot.process.pid, slot.replacing)
            slot.replacing = None

    def _live(self) -> list[subprocess.Popen[bytes]]:
        return [slot.process for slot in self._slots if slot.process is not None]

    def _reap(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            process = slot.process
            if process is None or process.poll() is None:
                continue
            slot.process = None
            _signal_group(process.pid, signal.SIGTERM)  # what it forked (RQ's scheduler) ends with it
            returncode, ran_s = process.returncode, now - slot.started_at
            if self._asked > RUNNING:
                slot.finished = True
                log.info("worker process %d stopped (%s)", process.pid, describe_exit(returncode))
            elif self._burst:
                slot.finished = True
                if returncode == 0:
                    log.info("worker process %d is done: the queues are empty", process.pid)
                else:
                    self._failed = True
                    log.warning("worker process %d %s after %.1f s; not replaced (--burst)",
                                process.pid, describe_exit(returncode), ran_s)
            else:
                # Even an exit 0 is a death here: without --burst, a worker only ends when asked to.
                slot.quick_deaths = slot.quick_deaths + 1 if ran_s < HEALTHY_AFTER_S else 0
                delay = restart_delay(slot.quick_deaths)
                slot.replace_at, slot.replacing = now + delay, process.pid
                log.warning("worker process %d %s after %.1f s; replacing it %s", process.pid,
                            describe_exit(returncode), ran_s,
                            f"in {delay:.0f} s (it keeps dying soon after starting)" if delay else "now")

    def _replace_due(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            if self._asked == RUNNING and slot.replace_at is not None and slot.replace_at <= now:
                self._start(slot)

    def _finished(self) -> bool:
        if self._live():
            return False
        return self._asked > RUNNING or all(slot.finished for slot in self._slots)

    # --- stopping -------------------------------------------------------------------------------------

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only noted here: the loop acts on it, outside the handler.
        self._signals.append(signum)

    def _take_signals(self) -> None:
        while self._signals:
            signum = self._signals.pop(0)
            self._asked = min(KILL, self._asked + 1)
            log.warning("got %s: %s", signal.Signals(signum).name, (
                "warm stop: each worker finishes its job in flight, then exits; again for a cold stop",
                "cold stop: the jobs in flight are stopped and queued again for the next worker; again to kill",
                "killing the worker processes",
            )[self._asked - 1])

    def _escalate(self) -> None:
        now = time.monotonic()
        if self._done == WARM and self._asked == WARM and now >= self._level_at + self._stop_timeout_s:
            log.warning("the workers did not stop within %.0f s: cold stop", self._stop_timeout_s)
            self._asked = COLD
        if self._done == COLD and self._asked == COLD and now >= self._level_at + COLD_GRACE_S:
            log.warning("the workers did not stop within %.0f s of a cold stop: killing them", COLD_GRACE_S)
            self._asked = KILL
        while self._done < self._asked:
            level = KILL if self._asked == KILL else self._done + 1
            if level == COLD and now < self._level_at + RQ_REPEAT_WINDOW_S:
                return  # sent now, RQ would take the cold stop's signal for a copy of the warm one
            self._done, self._level_at = level, now
            for slot in self._slots:
                slot.replace_at = None
            for process in self._live():
                if level == KILL:
                    self._killed = True
                    _signal_group(process.pid, signal.SIGKILL)
                else:
                    _signal(process, signal.SIGTERM)

    def _next_deadline(self) -> float | None:
        deadlines = [slot.replace_at for slot in self._slots if slot.replace_at is not None]
        if self._done == WARM:
            deadlines.append(self._level_at + (RQ_REPEAT_WINDOW_S if self._asked >= COLD else self._stop_timeout_s))
        elif self._done == COLD:
            deadlines.append(self._level_at + COLD_GRACE_S)
        return min(deadlines) if deadlines else None

    @staticmethod
    def _wait(wake_read: int, deadline: float | None) -> None:
        """Sleep until a signal (a child's exit included) or the deadline."""
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        select.select([wake_read], [], [], timeout)
        try:
            while os.read(wake_read, 512):
                pass
        except BlockingIOError:
            pass


def _wake_only(signum: int, frame: FrameType | None) -> None:
    # SIGCHLD needs a Python handler for the wakeup fd to be written; the loop reaps.
    pass


def _signal(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        process.send_signal(sig)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # nothing left in it
