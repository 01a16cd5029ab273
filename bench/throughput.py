"""Throughput of the worker on this machine, run by hand: `python bench/throughput.py [--only drain,...]`.

Starts a real redis-server, the mock CRM and a fake Slack (their own process), `acme serve` and the
default `acme worker` (real processes), then measures:

- load: --rate signed slash commands a second for --seconds, open loop (latency counted from each request's
  scheduled send time), each summary to its own channel: the ack, and from the ack to the summary reaching
  Slack (one clock: CLOCK_MONOTONIC is shared by processes); acme serve's CPU per ack.
- lazy: the same load on a Bolt app as Slack's samples write one (bench/bolt_lazy_app.py: an ack, and the
  summary in a lazy listener of the same process), and a table of the two side by side.
- agent: --turns direct messages to the agent within a second, its model taking --model-delay-s to answer each
  of its three calls in a turn (a two-tool turn); the time until every asker has the answer.
- drain: a backlog of --backlog summaries queued through signed slash commands while no worker runs;
  then the worker starts, and the drain rate counts from the moment it is registered to the last summary
  reaching Slack. Also the worker's CPU and the Redis commands per summary, and the worker's memory
  before and after (it must stay flat).

Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from http_load import describe, percentile
from processes import answers, cpu_ms, machine_speed_ms, memory_kb, stack_settings, stop_all, wait_for
from rq import Worker
from slack_ack import open_loop

from app.embedded_redis import EmbeddedRedis, free_port
from app.slack_request_signer import SlackRequestSigner

ROOT = Path(__file__).resolve().parents[1]


def descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(child) for child in children.read_text().split()] if children.exists() else []
    return found + [grandchild for child in found for grandchild in descendants(child)]


@dataclass
class Stack:
    """The processes under test and what talks to them."""

    redis_server: EmbeddedRedis
    env: dict[str, str]
    app_port: int
    slack_url: str
    signer: SlackRequestSigner
    connection: redis.Redis
    processes: list[subprocess.Popen] = field(default_factory=list)
    workers: list[subprocess.Popen] = field(default_factory=list)

    profile_to: str | None = None
    profile_serve_to: str | None = None
    agent_concurrency: int = 20

    def start_worker(self, *extra: str) -> subprocess.Popen:
        worker = subprocess.Popen([sys.executable, "-m", "app", "worker", *extra], env=self.env)
        self.processes.append(worker)
        self.workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        stop_all(self.workers)
        for worker in self.workers:
            self.processes.remove(worker)
        self.workers.clear()

    def worker_pids(self) -> list[int]:
        """The worker processes: the command's own and its children, if it supervises any."""
        pids = []
        for worker in self.workers:
            pids += [worker.pid, *descendants(worker.pid)]
        return pids

    def worker_cpu_ms(self) -> float:
        return sum(cpu_ms(pid) for pid in self.worker_pids())

    def worker_rss_kb(self) -> int:
        return sum(memory_kb(pid)["VmRSS"] for pid in self.worker_pids())

    def redis_pid(self) -> int:
        return int(self.connection.info("server")["process_id"])

    def redis_commands(self) -> int:
        return int(self.connection.info("stats")["total_commands_processed"])

    def redis_command_counts(self) -> dict[str, int]:
        return {name.removeprefix("cmdstat_"): int(stats["calls"])
                for name, stats in self.connection.info("commandstats").items()}

    def slack_calls(self) -> list[dict]:
        return httpx.get(f"{self.slack_url}/_bench/calls", timeout=60).json()


@dataclass
class Sent:
    statuses: list[int] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)  # from each request's scheduled send time
    acked_at: dict[str, float] = field(default_factory=dict)  # channel -> when its ack arrived (monotonic)


def send_commands(stack: Stack, count: int, rate: float, channel_prefix: str) -> Sent:
    """Signed `/acme summary` commands, open loop at `rate`/s, each to a channel of its own (Slack, and our
    pacing, allow about one message a second per channel)."""
    sent = Sent()
    sent.ack_ms, sent.statuses = asyncio.run(open_loop(
        stack.app_port, stack.signer, rate, count / rate, "summary Globex", lambda n: f"{channel_prefix}{n:06d}",
        acked_at=sent.acked_at))
    return sent


def posted_to(stack: Stack, prefix: str) -> list[dict]:
    return [c for c in stack.slack_calls() if c["method"] == "chat.postMessage" and
            str(c["channel"]).startswith(prefix)]


def drain(stack: Stack, backlog: int, worker_args: list[str]) -> None:
    sent = send_commands(stack, backlog, 400, "CD")
    assert all(s == 200 for s in sent.statuses), "some commands were not acked"
    worker = stack.start_worker(*worker_args)
    wait_for(lambda: Worker.count(connection=stack.connection) > 0, 60, poll_s=0.002)
    started = time.monotonic()
    # From here: this script's polling for the worker's start (every 2 ms) is not the summaries' cost.
    commands_before = stack.redis_commands()
    counts_before = stack.redis_command_counts()
    cpu_before = stack.worker_cpu_ms()
    peers_before, redis_before = cpu_ms(stack.processes[0].pid), cpu_ms(stack.redis_pid())
    if stack.profile_to:
        # Attached for a while, not wrapped around the worker: the worker stops as it always does.
        subprocess.Popen(["py-spy", "record", "--gil", "--nonblocking", "-d", "10", "-r", "200", "-f", "raw", "-o",
                          stack.profile_to, "--subprocesses", "-p", str(worker.pid)], stdout=subprocess.DEVNULL)
    # From the first summary on: RQ's scheduler is a process the worker forks when it starts working.
    wait_for(lambda: len(posted_to(stack, "CD")) >= 1, 600, poll_s=0.002)
    rss_start = stack.worker_rss_kb()
    wait_for(lambda: len(posted_to(stack, "CD")) >= backlog, 600, poll_s=0.25)
    last = max(c["at"] for c in posted_to(stack, "CD"))
    cpu = stack.worker_cpu_ms() - cpu_before
    peers_cpu = cpu_ms(stack.processes[0].pid) - peers_before
    redis_cpu = cpu_ms(stack.redis_pid()) - redis_before
    commands = stack.redis_commands() - commands_before
    counts = {name: (n - counts_before.get(name, 0)) / backlog for name, n in stack.redis_command_counts().items()}
    rss_end = stack.worker_rss_kb()
    seconds = last - started
    print(f"\ndrain: {backlog} summaries in {seconds:.2f} s = {backlog / seconds:.0f}/s "
          f"(worker {' '.join(worker_args) or 'default'}, pid {worker.pid}, "
          f"{len(stack.worker_pids())} processes with the supervisor and RQ's scheduler)")
    print(f"   worker CPU per summary: {cpu / backlog:.2f} ms; Redis commands per summary (everything on the "
          f"server from the worker's start, this script's included): {commands / backlog:.1f}")
    print(f"   beside it, per summary: the mock CRM and fake Slack {peers_cpu / backlog:.2f} ms of CPU, "
          f"redis-server {redis_cpu / backlog:.2f} ms")
    print("   by command: " + ", ".join(f"{name} {n:.1f}" for name, n in sorted(counts.items(), key=lambda c: -c[1])
                                         if n >= 0.05))
    print(f"   worker memory (its processes together): {rss_start / 1024:.1f} MB after the first summary, "
          f"{rss_end / 1024:.1f} MB after {backlog} (+{(rss_end - rss_start) / 1024:.1f} MB)")
    stack.stop_workers()


@dataclass
class LoadFigures:
    ack_p99_ms: float
    to_summary_p50_ms: float
    to_summary_p99_ms: float
    cpu_per_request_ms: float


def served_within(stack: Stack) -> dict[float, int]:
    """acme serve's own count of /slack/events answers within each of its histogram's bounds (seconds)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{stack.app_port}/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    counts = {}
    for line in text.splitlines():
        if line.startswith("acme_http_request_seconds_bucket{") and 'path="/slack/events"' in line:
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            counts[float("inf") if bound == "+Inf" else float(bound)] = int(float(line.rsplit(" ", 1)[1]))
    return counts


def print_served_within(before: dict[float, int], after: dict[float, int]) -> None:
    """What serve itself took, from its reading the request to its answer: against the ack the sender saw, it
    tells time spent in serve from time spent waiting for a CPU (serve's, or the sender's)."""
    total = after.get(float("inf"), 0) - before.get(float("inf"), 0)
    if not total:
        return
    shares = ", ".join(f"≤{bound * 1000:g} ms {100 * (after[bound] - before.get(bound, 0)) / total:.1f}%"
                       for bound in sorted(after) if bound <= 0.05)
    print(f"   serve's own time per request (its histogram): {shares}")


def cpu_wait_ms(pid: int) -> float:
    """How long the process's threads have waited, runnable, for a CPU (the kernel's schedstat)."""
    waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            waited += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return waited / 1e6


def steady_load(stack: Stack, rate: float, seconds: float, prefix: str, label: str,
                cpu_pids: Callable[[], list[int]]) -> LoadFigures:
    cpu_before = sum(cpu_ms(pid) for pid in cpu_pids())
    served_before = served_within(stack)
    server = cpu_pids()[0]
    waited_before = cpu_wait_ms(server), cpu_wait_ms(os.getpid())
    sent = send_commands(stack, int(rate * seconds), rate, prefix)
    served_after = served_within(stack)
    waited = [after - before for after, before in zip((cpu_wait_ms(server), cpu_wait_ms(os.getpid())),
                                                       waited_before, strict=True)]
    last_sent = max(sent.acked_at.values())
    wait_for(lambda: len(posted_to(stack, prefix)) >= len(sent.statuses), 120, poll_s=0.2)
    cpu = sum(cpu_ms(pid) for pid in cpu_pids()) - cpu_before
    posted = {c["channel"]: c["at"] for c in posted_to(stack, prefix)}
    to_summary = [(posted[channel] - acked) * 1000 for channel, acked in sent.acked_at.items()]
    bad = sum(s != 200 for s in sent.statuses)
    print(f"\nload ({label}): {rate:.0f} signed /acme summary a second for {seconds:.0f} s, each to its own channel")
    print(f"   ack: {describe(sent.ack_ms)}; non-200: {bad}")
    print_served_within(served_before, served_after)
    print(f"   waiting for a CPU, per request: the server {waited[0] / len(sent.statuses):.2f} ms, "
          f"this sender {waited[1] / len(sent.statuses):.2f} ms")
    if os.environ.get("BENCH_ACK_SERIES"):
        per_s = int(rate)
        print("   ack p50/max each second: " + ", ".join(
            f"{percentile(sent.ack_ms[i:i + per_s], 50):.0f}/{max(sent.ack_ms[i:i + per_s]):.0f}"
            for i in range(0, len(sent.ack_ms), per_s)))
    print(f"   ack -> summary posted: {describe(to_summary)}")
    print(f"   all {len(posted)} posted; the last {max(posted.values()) - last_sent:.2f} s after the last ack; "
          f"CPU per request (everything it ran on) {cpu / len(sent.statuses):.2f} ms")
    return LoadFigures(percentile(sent.ack_ms, 99), percentile(to_summary, 50), percentile(to_summary, 99),
                       cpu / len(sent.statuses))


def ours_under_load(stack: Stack, rate: float, seconds: float) -> LoadFigures:
    stack.start_worker()
    wait_for(lambda: Worker.count(connection=stack.connection) > 0, 60, poll_s=0.01)
    time.sleep(3)  # every worker process up, not only the first
    if stack.profile_serve_to:
        subprocess.Popen(["py-spy", "record", "--gil", "--nonblocking", "-d", str(int(seconds)), "-r", "500", "-f",
                          "raw", "-o", stack.profile_serve_to, "-p", str(stack.processes[1].pid)],
                         stdout=subprocess.DEVNULL)
    figures = steady_load(stack, rate, seconds, "CL", "acme serve + the default acme worker",
                          lambda: [stack.processes[1].pid, *stack.worker_pids()])
    stack.stop_workers()
    return figures


def bolt_lazy_under_load(stack: Stack, rate: float, seconds: float) -> LoadFigures:
    port = free_port()
    bolt = subprocess.Popen([sys.executable, str(ROOT / "bench/bolt_lazy_app.py")],
                            env={**stack.env, "PORT": str(port)})
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz"), 30)
        lazy = Stack(stack.redis_server, stack.env, port, stack.slack_url, stack.signer, stack.connection)
        return steady_load(lazy, rate, seconds, "CB", "Bolt's lazy listeners, in one process",
                           lambda: [bolt.pid])
    finally:
        stop_all([bolt])


def compare(ours: LoadFigures, lazy: LoadFigures) -> None:
    print("\n| same load | ack p99 | ack -> summary p50 | ack -> summary p99 | CPU per request |")
    print("|---|---|---|---|---|")
    for name, f in (("acme serve + acme worker", ours), ("Bolt lazy listeners", lazy)):
        print(f"| {name} | {f.ack_p99_ms:.1f} ms | {f.to_summary_p50_ms:.1f} ms | {f.to_summary_p99_ms:.1f} ms "
              f"| {f.cpu_per_request_ms:.2f} ms |")


def agent_turns(stack: Stack, turns: int, model_delay_s: float) -> None:
    stack.start_worker()
    wait_for(lambda: Worker.count(connection=stack.connection) > 0, 60, poll_s=0.01)
    wait_for(lambda: Worker.count(connection=stack.connection) >= 2 * stack.agent_concurrency, 60, poll_s=0.05)

    async def ask_all() -> list[int]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.app_port}") as client:
            async def ask(n: int) -> int:
                await asyncio.sleep(n / turns)  # all within one second
                asked_at[f"DA{n:05d}"] = time.monotonic()
                body, headers = stack.signer.message_event(f"summarize Globex please ({n})", channel=f"DA{n:05d}",
                                                           user="U0BENCH", channel_type="im")
                return (await client.post("/slack/events", content=body, headers=headers)).status_code
            return await asyncio.gather(*(ask(n) for n in range(turns)))

    asked_at: dict[str, float] = {}
    started = time.monotonic()
    statuses = asyncio.run(ask_all())
    assert all(s == 200 for s in statuses), statuses

    def answered() -> dict[str, float]:
        return {c["channel"]: c["at"] for c in stack.slack_calls()
                if str(c["channel"]).startswith("DA") and c["method"] in ("chat.stopStream", "chat.postMessage")}

    wait_for(lambda: len(answered()) >= turns, 120, poll_s=0.2)
    last = max(answered().values())
    print(f"\nagent: {turns} turns asked within 1 s, model {model_delay_s:.1f} s per call (3 calls a turn): "
          f"all answered {last - started:.2f} s after the first was asked "
          f"(default worker: {len(stack.worker_pids())} processes)")
    print(f"   each turn, asked -> answered: {describe([(at - asked_at[c]) * 1000 for c, at in answered().items()])}")
    if turns == 1:
        print("   its timeline: " + ", ".join(f"{c['method']} +{(c['at'] - asked_at['DA00000']) * 1000:.0f} ms"
                                         for c in stack.slack_calls() if c["channel"] == "DA00000"))
    stack.stop_workers()


def start_stack(settings: dict[str, str], model_delay_s: float | None = None) -> Stack:
    redis_server = EmbeddedRedis().start()
    crm_port, slack_port, app_port = free_port(), free_port(), free_port()
    crm_url, slack_url, app_url = (f"http://127.0.0.1:{p}" for p in (crm_port, slack_port, app_port))
    signing_secret = secrets.token_hex(16)
    env = stack_settings(redis_url=redis_server.url, crm_url=crm_url, slack_url=slack_url, app_port=app_port,
                         database_dir=tempfile.mkdtemp(prefix="acme-bench-"), signing_secret=signing_secret)
    env.update(settings)
    signer = SlackRequestSigner(signing_secret, response_base_url=slack_url)
    stack = Stack(redis_server, env, app_port, slack_url, signer, redis.Redis.from_url(redis_server.url))
    peers = [sys.executable, str(ROOT / "bench/peers.py"), "--crm-port", str(crm_port), "--slack-port", str(slack_port)]
    if model_delay_s is not None:
        model_port = free_port()
        peers += ["--model-port", str(model_port), "--model-delay-s", str(model_delay_s)]
        env.update(LLM_BASE_URL=f"http://127.0.0.1:{model_port}/v1", LLM_MODEL="bench-model")
    stack.processes.append(subprocess.Popen(peers, env=env))
    stack.processes.append(subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env))
    wait_for(lambda: answers(f"{app_url}/healthz") and answers(f"{crm_url}/admin/stats"), 30)
    return stack


def rest(rested_ms: float, longest_s: float = 90.0) -> None:
    """Wait for the machine to be as fast as it was at the start (this host slows for a while after a phase's
    load), so that each phase starts from the same machine."""
    started = time.monotonic()
    while (speed := machine_speed_ms()) > 1.15 * rested_ms and time.monotonic() - started < longest_s:
        time.sleep(5)
    print(f"\n(rested {time.monotonic() - started:.0f} s; speed {speed:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="load,lazy,drain,agent", help="comma-separated phases (default: all)")
    parser.add_argument("--rate", type=float, default=200, help="load: slash commands a second")
    parser.add_argument("--seconds", type=float, default=10, help="load: for how long")
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--model-delay-s", type=float, default=2.0)
    parser.add_argument("--backlog", type=int, default=3000)
    parser.add_argument("--worker-args", default="", help="extra arguments for `acme worker`")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for every process started (repeatable)")
    parser.add_argument("--profile", metavar="FILE", help="run the worker under py-spy, collapsed stacks to FILE")
    parser.add_argument("--profile-serve", metavar="FILE",
                        help="load: run acme serve under py-spy, collapsed stacks to FILE")
    args = parser.parse_args()
    phases = set(args.only.split(","))
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; load {os.getloadavg()[0]:.2f}; "
          f"speed {machine_speed_ms():.0f} ms (a fixed loop: lower is faster; see bench/processes.py)")
    stack = start_stack(dict(setting.split("=", 1) for setting in args.env),
                        args.model_delay_s if "agent" in phases else None)
    stack.profile_to = args.profile
    stack.profile_serve_to = args.profile_serve
    rested_ms = machine_speed_ms()
    try:
        ours = ours_under_load(stack, args.rate, args.seconds) if "load" in phases else None
        if "lazy" in phases:
            rest(rested_ms)
            lazy = bolt_lazy_under_load(stack, args.rate, args.seconds)
            if ours:
                compare(ours, lazy)
        if "drain" in phases:
            rest(rested_ms)
            drain(stack, args.backlog, args.worker_args.split())
        if "agent" in phases:
            rest(rested_ms)
            agent_turns(stack, args.turns, args.model_delay_s)
    finally:
        stop_all(stack.processes)
        stack.connection.close()
        stack.redis_server.stop()
        print(f"\nmachine speed at the end: {machine_speed_ms():.0f} ms")


if __name__ == "__main__":
    main()
