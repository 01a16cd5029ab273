"""`acme serve | worker | demo`: the console scripts."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys

from app.config import Settings, SettingsError, load_settings
from app.logs import configure_logging
from app.worker.usable_cores import usable_cores

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SUPERVISED_CHILD = "--supervised-child"


def _settings_and_logging(warn: bool = True) -> Settings:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format, settings.secret_values())
    if warn:
        _warn_of_unknown_settings()
        _warn_of_a_token_not_a_bots(settings)
    return settings


# A bot token, or one that token rotation gives out; a user's token (xoxp-) would post as that person.
_BOT_TOKEN_PREFIXES = ("xoxb-", "xoxe.xoxb-")


def _warn_of_a_token_not_a_bots(settings: Settings) -> None:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    if token and not token.startswith(_BOT_TOKEN_PREFIXES):
        logging.getLogger("app.settings").warning(
            "SLACK_BOT_TOKEN is not a bot token (xoxb-...): Slack will refuse it, or the app will post as the "
            "person it belongs to. Use the Bot User OAuth Token from the app's OAuth & Permissions page.")


# The prefixes of this project's settings: a name with one that is no setting is most likely a misspelt one.
_OUR_PREFIXES = ("SLACK_", "CRM_", "ACME_", "LLM_", "AGENT_", "WORKER_", "HTTP_TOOL_", "REDIS_", "DATABASE_",
                 "NOTIFY_", "LOG_")
_NOT_SETTINGS = frozenset({"SLACK_MANIFEST_SCHEMA_DIR", "CRM_WEBHOOK_URL"})  # the tests' own, the mock CRM's


def _warn_of_unknown_settings() -> None:
    """Settings the environment or .env gives that are none of ours (`SLACK_BOT_TOKNE`): pydantic ignores them."""
    from dotenv import dotenv_values  # noqa: PLC0415 - pydantic-settings' own reader of .env

    from app.config import SECRET_FIELDS  # noqa: PLC0415

    known = {name.upper() for name in Settings.model_fields} | {f"{name.upper()}_FILE" for name in SECRET_FIELDS}
    given = set(os.environ) | {name for name in dotenv_values(".env") if name}
    unknown = sorted(name for name in given if name.upper().startswith(_OUR_PREFIXES)
                     and name.upper() not in known | _NOT_SETTINGS)
    if unknown:
        logging.getLogger("app.settings").warning("not a setting, and ignored: %s (misspelt?); the settings are "
                                                  "listed in the README", ", ".join(unknown))


def serve(settings: Settings) -> None:
    import signal  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415 - keep `acme --help` quick

    from app.composition import build_collaborators  # noqa: PLC0415
    from app.http_server import WS_MAX_MESSAGE_BYTES  # noqa: PLC0415
    from app.web.app import create_web_app  # noqa: PLC0415
    from app.web.socket_mode import start_socket_mode  # noqa: PLC0415

    # Every setting is checked before anything is done: a refused start leaves no database file behind.
    settings.require("slack_bot_token", "slack_signing_secret", command="serve")
    if settings.host not in LOOPBACK_HOSTS and not settings.api_keys:
        raise SettingsError(f"HOST={settings.host} would open the REST API to the network without a key: "
                            "set ACME_API_KEYS, or serve on 127.0.0.1.")
    settings.require_model_if_configured(command="serve")
    if settings.slack_app_token is not None and not settings.slack_app_token.get_secret_value().startswith("xapp-"):
        raise SettingsError("SLACK_APP_TOKEN must be an app-level token (xapp-...) with the connections:write "
                            "scope, from the app's Basic Information page; unset it to take Slack over HTTP only.")
    _upgrade(settings)
    collaborators = build_collaborators(settings)
    app = create_web_app(collaborators)
    # With SLACK_APP_TOKEN, Slack also reaches the same Bolt app over Socket Mode, for as long as the server runs.
    socket_mode = start_socket_mode(app.state.slack_bolt, settings)
    # Everything built so far lives as long as the server: keeping it out of the garbage collector's
    # scans shortens the pauses that otherwise show up as slow acks.
    gc.collect()
    gc.freeze()

    def leave_through_finally(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    # uvicorn shuts down gracefully on SIGTERM, then raises it again once it has put the previous handler
    # back: with the default one the process would end there, before the `finally` below closes the
    # Socket Mode connection and the collaborators.
    signal.signal(signal.SIGTERM, leave_through_finally)
    # Our own logging config stays in force; uvicorn's access log would log every ack at INFO.
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                    ws_max_size=WS_MAX_MESSAGE_BYTES,
                    lifespan="off")
    finally:
        if socket_mode is not None:
            socket_mode.stop()  # after uvicorn's graceful shutdown: envelopes are acked until then
        collaborators.close()  # what is still being published goes out before the process ends


def worker(settings: Settings, burst: bool, processes: int = 1, stop_timeout_s: float = 30.0,
           supervisor_pid: int | None = None) -> None:
    settings.require("slack_bot_token", command="worker")
    settings.require_model_if_configured(command="worker")
    # As serve does: a worker started first on a fresh database would otherwise record its first runs in tables
    # that are not there yet. Upgrades take turns (app/store/db.py), so each process may ask. A database that does
    # not answer does not stop it: Slack's work needs only Redis, and its records are written once it answers.
    try:
        if supervisor_pid is None:  # its supervisor has
            _upgrade(settings)
    except SettingsError as exc:
        logging.getLogger("app.cli").warning("%s", exc)
    if processes > 1:
        _warn_if_sqlite_is_shared(settings, f"worker --processes {processes}")
        from app.worker.supervisor import Supervisor  # noqa: PLC0415

        # Each child is this command with one process: it reads the same settings and builds its own
        # collaborators, so the supervisor builds none and forks nothing it holds.
        child = [sys.executable, "-m", "app", "worker", "--processes", "1", SUPERVISED_CHILD, str(os.getpid()),
                 *(["--burst"] if burst else [])]
        raise SystemExit(Supervisor(child, processes, burst=burst, stop_timeout_s=stop_timeout_s).run())

    from app.composition import build_collaborators  # noqa: PLC0415
    from app.worker.ends_with_supervisor import end_with_supervisor  # noqa: PLC0415
    from app.worker.lower_priority import lower_priority  # noqa: PLC0415
    from app.worker.runner import run_worker  # noqa: PLC0415

    # On a machine it shares with `acme serve`, the worker yields the CPU to the acks: Slack gives up on
    # one after 3 s, while a job can wait a few ms more. Alone on a machine, it changes nothing.
    lower_priority(settings.worker_nice)
    if supervisor_pid is not None:
        end_with_supervisor(supervisor_pid)
    collaborators = build_collaborators(settings)
    gc.collect()
    gc.freeze()  # as in serve: long-lived objects need no scanning
    try:
        run_worker(collaborators, burst=burst)
    finally:
        collaborators.close()


def _warn_if_sqlite_is_shared(settings: Settings, command: str) -> None:
    """SQLite takes one writer at a time: with several processes writing, each waits for the others."""
    if settings.database_url.startswith("sqlite"):
        logging.getLogger("app.cli").warning(
            "acme %s on SQLite: the processes share one writer at a time; set DATABASE_URL to PostgreSQL "
            "when more than one process writes (README: The database in production)", command)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def db_upgrade(settings: Settings) -> None:
    _upgrade(settings)
    print("the database schema is up to date", file=sys.stderr)


def _upgrade(settings: Settings) -> None:
    """The schema brought up to date, or a refusal to start that says which database did not answer."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from sqlalchemy.exc import OperationalError  # noqa: PLC0415

    from app.store.db import upgrade  # noqa: PLC0415

    try:
        upgrade(settings.database_url)
    except OperationalError as exc:
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        raise SettingsError(f"the database at {shown} did not answer: {' '.join(str(exc.orig or exc).split())}; "
                            "check DATABASE_URL, and that the database is running") from None


def demo(script: str | None) -> None:
    from app.demo import run_demo  # noqa: PLC0415

    if script:
        with open(script) as lines:
            run_demo(lines)
    else:
        run_demo(sys.stdin, interactive=sys.stdin.isatty())


def plan_or_eval(settings: Settings, args: argparse.Namespace) -> None:
    from app.agent_commands import plan, run_eval  # noqa: PLC0415
    from app.planning import planner_named, product_tool_specs  # noqa: PLC0415

    planner = planner_named(args.planner, settings)
    tools = product_tool_specs()
    if args.command == "plan":
        plan(planner, " ".join(args.text), args.channel, args.json, tools)
    elif not run_eval(planner, args.file, args.min_accuracy, args.json, tools):
        raise SystemExit(1)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("acme-assistant")
    except PackageNotFoundError:
        return "(not installed)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="acme", description="ACME Assistant: the Slack bot that connects "
                                     "the company's systems.")
    parser.add_argument("--version", action="version", version=f"acme {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="the HTTP server: Slack's /slack/events (and Socket Mode with SLACK_APP_TOKEN), "
                        "the CRM's /webhooks/crm, the REST API under /v1, /healthz, /readyz, /metrics")
    worker_parser = commands.add_parser("worker", help="run queued jobs")
    worker_parser.add_argument("--burst", action="store_true", help="drain the queues, then exit")
    worker_parser.add_argument("--processes", type=_positive_int, default=usable_cores(), metavar="N",
                               help="worker processes under this command, each replaced when it dies "
                               "(default: one per core this process may use, within its container's CPU limit); "
                               "1 runs the worker in this process")
    # What a supervisor's child is started with: the supervisor said what is wrong with the settings once already.
    # The supervisor's pid: the child ends with it (app/worker/ends_with_supervisor.py).
    worker_parser.add_argument(SUPERVISED_CHILD, type=int, metavar="PID", help=argparse.SUPPRESS)
    worker_parser.add_argument("--stop-timeout", type=float, default=30.0, metavar="SECONDS",
                               help="on SIGTERM or SIGINT, how long the workers may finish their jobs in flight "
                               "before a cold stop (default 30; with --processes above 1)")
    demo_parser = commands.add_parser("demo", help="everything offline, with a console Slack")
    demo_parser.add_argument("--script", metavar="FILE", help="read the lines from FILE, then exit when done")
    db_parser = commands.add_parser("db", help="the database of workflows and runs")
    db_parser.add_argument("action", choices=["upgrade"], help="bring the schema up to date")
    plan_parser = commands.add_parser("plan", help="what the agent would do with TEXT, executing nothing")
    plan_parser.add_argument("--planner", choices=["rules", "llm"], help="default: llm when LLM_BASE_URL is set")
    plan_parser.add_argument("--channel", help="plan as if said in this channel id (C123...)")
    plan_parser.add_argument("--json", action="store_true", help="one JSON object: planner, calls, reply")
    plan_parser.add_argument("text", nargs="+", help="the request; - reads one a line from standard input")
    eval_parser = commands.add_parser("eval", help="run an eval set of plain requests and print the accuracy")
    eval_parser.add_argument("file", nargs="?", help="JSON Lines of {text, channel?, tool, args}; "
                             "default: the project's own set")
    eval_parser.add_argument("--planner", choices=["rules", "llm"], help="default: llm when LLM_BASE_URL is set")
    eval_parser.add_argument("--min-accuracy", type=float, default=0.9,
                             help="exit 1 below this share of cases with tool and arguments right (default 0.9)")
    eval_parser.add_argument("--json", action="store_true", help="one JSON object with every case")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            demo(args.script)
            return
        settings = _settings_and_logging(warn=getattr(args, "supervised_child", None) is None)  # said by its supervisor
        if args.command == "serve":
            serve(settings)
        elif args.command == "db":
            db_upgrade(settings)
        elif args.command in ("plan", "eval"):
            plan_or_eval(settings, args)
        else:
            worker(settings, args.burst, args.processes, args.stop_timeout, supervisor_pid=args.supervised_child)
    except SettingsError as exc:
        print(f"acme {args.command}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
