"""The composition root: a process builds its collaborators from Settings, once, and hands them down.

Only the edges see the whole set: the web app's assembly (app/web/app.py) and the worker's
entry points (app/worker/entrypoints.py). Everything below them is given the few parts it uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from app.agent.conversation import Planner
from app.agent.llm_planner import LlmPlanner
from app.agent.loop import AgentLoop
from app.agent.rules.planner import RulesPlanner
from app.agent.slack_turns import SlackTurns
from app.agent.turns import AgentTurns
from app.config import Settings
from app.domain.system_status import SystemStatus
from app.integrations.crm import CrmClient
from app.integrations.deferral import DeferralPolicy
from app.integrations.http_tool_client import HttpToolClient
from app.integrations.llm_client import LlmClient
from app.integrations.pacing import ChannelPacer
from app.integrations.resilience import Downstream, RetryPolicy, SharedBreaker
from app.integrations.shared_throttle import SharedThrottle
from app.integrations.slack_effects import EffectRecords
from app.integrations.slack_poster import SlackPoster
from app.integrations.slack_web_client import KeepAliveWebClient
from app.jobs.drafts import DraftWriter, ModelDrafts
from app.jobs.reports import REUSE_FINISHED_S, AccountReports
from app.logs import SecretMasker
from app.queueing.job_queue import ACK_REDIS_TIMEOUT_S, JobQueue
from app.queueing.job_table import APPROVAL_EXPIRY
from app.runs.control import RunControl
from app.runs.engine import StepEngine
from app.runs.events import EventPublisher
from app.runs.history import RunHistory
from app.runs.record_writer import RunRecordWriter
from app.runs.slack_runs import SlackRunRecorder
from app.runs.steps import StepRecorder
from app.state.agent_counters import AgentCounters
from app.state.approvals import ApprovalStore
from app.state.notification_store import NotificationStore
from app.state.report_claims import ReportClaims
from app.state.response_urls import ResponseUrls
from app.state.thread_memory import ThreadMemory
from app.status import read_status
from app.store.db import Database
from app.tools.context import ToolContext
from app.tools.tool_catalog import ToolCatalog


@dataclass
class Collaborators:
    settings: Settings
    # The same Redis with a short timeout, for what a request waits on before its ack (app/web/).
    ack_redis: redis.Redis
    redis: redis.Redis
    jobs: JobQueue
    response_urls: ResponseUrls
    notifications: NotificationStore
    crm_downstream: Downstream
    slack_downstream: Downstream
    http_tool_downstream: Downstream
    crm: CrmClient
    slack: SlackPoster
    http_tools: HttpToolClient
    reports: AccountReports
    db: Database
    runs: RunControl
    engine: StepEngine
    slack_runs: SlackRunRecorder
    run_records: RunRecordWriter
    tools: ToolCatalog
    # Breakers and queues as every process sees them; raises redis.RedisError when Redis does not answer.
    read_system_status: Callable[[], SystemStatus]
    agent: AgentTurns
    slack_agent: SlackTurns
    thread_memory: ThreadMemory
    approvals: ApprovalStore
    agent_counters: AgentCounters
    run_events: EventPublisher
    llm: LlmClient | None = None
    llm_downstream: Downstream | None = None
    drafts: DraftWriter | None = None

    @property
    def breakers(self) -> list[SharedBreaker]:
        downstreams = [self.crm_downstream, self.slack_downstream, self.http_tool_downstream, self.llm_downstream]
        return [d.breaker for d in downstreams if d is not None]

    def close(self) -> None:
        self.run_records.close()  # before the publisher: the records still waiting publish their events
        self.run_events.close()
        self.crm.close()
        self.slack.close()
        self.http_tools.close()
        if self.llm is not None:
            self.llm.close()
        self.db.close()
        self.redis.close()
        self.ack_redis.close()


def _downstream(name: str, connection: redis.Redis, fail_max: int, reset_s: float, max_rps: float,
                timeout_s: float, sleep: Callable[[float], None]) -> Downstream:
    # The name goes into Redis keys and metric labels, so it has no spaces.
    key_name = name.replace(" ", "-")
    return Downstream(name, SharedBreaker(key_name, connection, fail_max, reset_s), RetryPolicy(sleep=sleep),
                      SharedThrottle(connection, key_name, max_rps, sleep=sleep), timeout_s)


def build_llm_client(settings: Settings, connection: redis.Redis,
                     sleep: Callable[[float], None] = time.sleep) -> tuple[Downstream, LlmClient] | None:
    """The model's client and its downstream, when LLM_BASE_URL and LLM_MODEL say which model."""
    if not (settings.llm_base_url and settings.llm_model):
        return None
    downstream = _downstream("LLM", connection, settings.llm_breaker_fail_max, settings.llm_breaker_reset_s,
                             settings.llm_max_rps, settings.llm_timeout_s, sleep)
    return downstream, LlmClient(base_url=settings.llm_base_url, model=settings.llm_model, downstream=downstream,
                                 api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None)


def redis_for(settings: Settings) -> redis.Redis:
    # Bytes, not str: RQ and pybreaker's Redis storage both need a client without decode_responses.
    return redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2,
                                health_check_interval=30)


def ack_redis_for(settings: Settings) -> redis.Redis:
    # Slack gives up after 3 s: a paused Redis must cost an ack 0.2 s, then the user is told why.
    return redis.Redis.from_url(settings.redis_url, socket_timeout=ACK_REDIS_TIMEOUT_S,
                                socket_connect_timeout=ACK_REDIS_TIMEOUT_S)


def build_collaborators(settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> Collaborators:
    """`sleep` is what retries wait with between attempts: tests pass a recorder instead of waiting 7 s."""
    connection = redis_for(settings)
    crm_downstream = _downstream("CRM", connection, settings.crm_breaker_fail_max, settings.crm_breaker_reset_s,
                                 settings.crm_max_rps, settings.crm_timeout_s, sleep)
    # Slack is paced per channel (ChannelPacer), not by a process-wide throttle.
    slack_downstream = _downstream("Slack", connection, settings.slack_breaker_fail_max,
                                   settings.slack_breaker_reset_s, 0, settings.slack_timeout_s, sleep)
    http_tool_downstream = _downstream("HTTP tools", connection, settings.http_tool_breaker_fail_max,
                                       settings.http_tool_breaker_reset_s, settings.http_tool_max_rps,
                                       settings.http_tool_timeout_s, sleep)
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    web_client = KeepAliveWebClient(
        token=token, base_url=settings.slack_api_url, timeout=int(settings.slack_timeout_s), retry_handlers=[]
    )
    crm_token = settings.crm_api_token.get_secret_value() if settings.crm_api_token else None
    crm = CrmClient(base_url=settings.crm_base_url, downstream=crm_downstream, token=crm_token)
    slack = SlackPoster(client=web_client, downstream=slack_downstream, api_url=settings.slack_api_url,
                        pacer=ChannelPacer(connection, settings.slack_channel_interval_s, settings.slack_channel_burst),
                        deferral=DeferralPolicy(first_backoff_s=settings.slack_retry_later_s,
                                                give_up_after_s=settings.slack_give_up_after_s),
                        effects=EffectRecords(connection))
    http_tools = HttpToolClient(
        downstream=http_tool_downstream,
        allowed_hosts=settings.http_tool_allow_list,
        secrets={name: value.get_secret_value() for name, value in settings.http_tool_secrets.items()},
    )
    reports = AccountReports(crm, slack, ReportClaims(connection, 2 * settings.worker_job_lease_s, REUSE_FINISHED_S))
    response_urls = ResponseUrls(connection)
    jobs = JobQueue(connection, response_urls)
    db = Database(settings.database_url)
    events = EventPublisher(connection)
    history = RunHistory(db, events)
    # Slack's runs give up on SQLite's lock after 0.1 s, not 5: the record waits (written later), the answer does not.
    record_writer = RunRecordWriter(db.quick(), events)
    tools = ToolCatalog(db)
    llm_downstream, llm = build_llm_client(settings, connection, sleep) or (None, None)
    downstreams = [d for d in (crm_downstream, slack_downstream, http_tool_downstream, llm_downstream) if d]

    def read_system_status() -> SystemStatus:
        return read_status([d.breaker for d in downstreams], jobs.queues)

    tool_context = ToolContext(crm=crm, slack=slack, http=http_tools, reports=reports, read_status=read_system_status)
    counters = AgentCounters(connection)
    memory = ThreadMemory(connection, settings.agent_memory_turns)
    approvals = ApprovalStore(connection)
    planner: Planner = LlmPlanner(llm, SecretMasker(settings.secret_values()).mask) if llm else RulesPlanner()
    agent = AgentTurns(history=history, loop=AgentLoop(tools, StepRecorder(history), tool_context,
                                                        settings.agent_max_steps),
                       tools=tools, memory=memory, counters=counters, planner=planner,
                       fallback=RulesPlanner() if llm else None, counts_model_calls=llm is not None)

    def schedule_expiry(approval_id: str, after_s: int) -> None:
        jobs.enqueue(APPROVAL_EXPIRY, {"approval_id": approval_id}, job_id=f"approval-expiry-{approval_id}",
                     description=f"approval {approval_id} expires", delay_s=after_s)

    return Collaborators(
        settings=settings,
        redis=connection,
        ack_redis=ack_redis_for(settings),
        jobs=jobs,
        response_urls=response_urls,
        notifications=NotificationStore(connection),
        crm_downstream=crm_downstream,
        slack_downstream=slack_downstream,
        http_tool_downstream=http_tool_downstream,
        crm=crm,
        slack=slack,
        http_tools=http_tools,
        reports=reports,
        db=db,
        runs=RunControl(history, jobs, connection),
        engine=StepEngine(history, tools, tool_context),
        slack_runs=SlackRunRecorder(RunHistory(db.quick(), events), history, record_writer),
        run_records=record_writer,
        tools=tools,
        read_system_status=read_system_status,
        agent=agent,
        slack_agent=SlackTurns(agent, slack, approvals, memory, schedule_expiry, settings.agent_approval_ttl_s),
        thread_memory=memory,
        approvals=approvals,
        agent_counters=counters,
        run_events=events,
        llm=llm,
        llm_downstream=llm_downstream,
        drafts=ModelDrafts(llm, counters) if llm else None,
    )
