"""`acme demo --script`: the offline demo as a new user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_script_shows_working_on_it_then_summaries(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "app", "demo", "--script", str(ROOT / "examples/demo-script.txt")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    globex = out.index("you in #demo: /acme summary Globex")
    working = out.index("Working on it...", globex)
    summary = out.index("*Globex* (Globex Corporation)", working)
    assert globex < working < summary < out.index("you in #demo: @acme summarize Initech")
    assert "acme in thread" in out and "Summary of Initech (Initech LLC)" in out
    assert "Several customers match \u201cAcme\u201d" in out
    assert "No customer matches \u201cNobody Such\u201d." in out
    assert "Account report for *Initech* is ready" in out and "uploaded Account report: Initech" in out
    urgent = out.index("A new urgent ticket just arrived from *Globex*: Checkout returns 502 for every EU order")
    clicked = out.index("you in #demo: click Draft response", urgent)
    assert out.index("Draft requested by <@U0YOU>", clicked) < out.index("Here is a draft reply", clicked)
    assert "New customer signed up: *Newco Robotics* (pro)" in out and "*Newco Robotics* (Newco Robotics)" in out
    # Plain words, offline: posting elsewhere is asked first, and the click does it.
    lowdown = out.index("you in #demo: @acme can you give me the lowdown on Globex and drop it in #sales?")
    asked = out.index("before I do it: I would post a summary of *Globex* (from the CRM) in #sales", lowdown)
    approved = out.index("Approved by <@U0YOU>", asked)
    assert out.index("[#sales] acme:", approved) < out.index("Done: I posted the summary of *Globex* in #sales")
    assert "Everything is up: every circuit breaker is closed." in out
    assert "Traceback" not in result.stderr
