"""An operator's first hour: a refused start leaves nothing behind, and a good start is quiet."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

from app.embedded_redis import free_port


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "CRM_", "ACME_", "LLM_", "DATABASE_", "LOG_"))}
    env.update(extra)
    return env


def test_serve_without_the_bot_token_names_it_and_creates_no_database(tmp_path: Path) -> None:
    env = _env(SLACK_SIGNING_SECRET="signing-secret-of-the-test", DATABASE_URL="sqlite:///./acme.db")
    result = subprocess.run([sys.executable, "-m", "app", "serve"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SLACK_BOT_TOKEN" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no acme.db: the start was refused before the migrations


def test_serve_starts_without_alembic_chatter(tmp_path: Path, redis_conn: redis.Redis, redis_url: str) -> None:
    port = free_port()
    env = _env(SLACK_BOT_TOKEN="xoxb-first-hour", SLACK_SIGNING_SECRET="signing-secret-of-the-test",
               DATABASE_URL="sqlite:///./acme.db", REDIS_URL=redis_url, PORT=str(port))
    log = tmp_path / "serve.log"
    with log.open("wb") as err:
        serve = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env, cwd=tmp_path, stderr=err)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and serve.poll() is None:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert serve.poll() is None, log.read_text()
        finally:
            serve.terminate()
            serve.wait(timeout=15)
    text = log.read_text()
    assert (tmp_path / "acme.db").exists()  # the migrations did run
    assert "alembic" not in text, text


def test_docs_load_their_assets_from_the_app_itself(stack_factory) -> None:
    stack = stack_factory(worker=False, api_keys=["a-key-the-docs-do-not-need"])
    page = stack.http.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", page.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), f"/docs loads {asset} from elsewhere"
        assert stack.http.get(asset).status_code == 200, asset
    assert "//" not in "".join(re.findall(r"url:\s*'([^']*)'", page.text))  # the schema is ours too


def test_the_demo_saves_the_report_and_chart_where_it_says(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text("/acme report Initech\n")
    result = subprocess.run([sys.executable, "-m", "app", "demo", "--script", str(script)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    saved = re.findall(r"saved: (\S+)", result.stdout)
    assert {Path(p).suffix for p in saved} == {".md", ".png"}, result.stdout
    for shown in saved:
        path = tmp_path / shown
        assert path.is_file() and path.stat().st_size > 0
    report = next(tmp_path / p for p in saved if p.endswith(".md"))
    chart = next(Path(p).name for p in saved if p.endswith(".png"))
    assert "Initech" in report.read_text() and f"]({chart})" in report.read_text()  # the chart shows beside it
