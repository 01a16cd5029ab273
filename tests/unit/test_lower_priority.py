"""A worker lowers its session's priority only when the session is its own (app/worker/lower_priority.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

AUTOGROUP = Path("/proc/self/autogroup")
pytestmark = pytest.mark.skipif(not AUTOGROUP.exists(), reason="this kernel has no autogroups")

# Prints the process's nice, then its session's line from /proc ("/autogroup-N nice M").
LOWERED = ("import os; from app.worker.lower_priority import lower_priority; lower_priority(19); "
           "print(os.nice(0)); print(open('/proc/self/autogroup').read().strip())")


def _lowered(*, own_session: bool) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-c", LOWERED], capture_output=True, text=True, check=True,
                          start_new_session=own_session)
    nice, autogroup = done.stdout.splitlines()
    return int(nice), autogroup


def test_a_worker_leading_its_own_session_lowers_the_session_too() -> None:
    nice, autogroup = _lowered(own_session=True)
    assert nice == 19
    assert autogroup.endswith(" nice 19")


def test_a_worker_in_a_shared_session_leaves_the_others_in_it_alone() -> None:
    before = AUTOGROUP.read_text().strip()
    nice, autogroup = _lowered(own_session=False)
    assert nice == 19
    assert autogroup == before  # the same group as this test's, at the same nice
    assert AUTOGROUP.read_text().strip() == before
