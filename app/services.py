"""The composition root: builds Redis, queues, downstreams and clients from Settings, once per process."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from slack_sdk import WebClient

from app.config import Settings
from app.integrations.crm import CrmClient
from app.integrations.http_tool_client import HttpToolClient
from app.integrations.pacing import ChannelPacer
from app.integrations.resilience import Downstream, RetryPolicy, SharedBreaker, Throttle
from app.integrations.slack_poster import SlackPoster
from app.jobs.notification_store import NotificationStore
from app.jobs.queue import JobQueue
from app.runs.events import EventPublisher
from app.runs.service import RunService
from app.store.db import Database
from app.tools.catalog import ToolCatalog


@dataclass
class Services:
    settings: Settings
    redis: redis.Redis
    jobs: JobQueue
    notifications: NotificationStore
    crm_downstream: Downstream
    slack_downstream: Downstream
    crm: CrmClient
    slack: SlackPoster
    db: Database
    runs: RunService
    tools: ToolCatalog
    http_tool_downstream: Downstream
    http_tools: HttpToolClient

    @property
    def breakers(self) -> list[SharedBreaker]:
        return [self.crm_downstream.breaker, self.slack_downstream.breaker, self.http_tool_downstream.breaker]

    def close(self) -> None:
        self.crm.close()
        self.http_tools.close()
        self.db.close()
        self.redis.close()


def _downstream(name: str, connection: redis.Redis, fail_max: int, reset_s: float, max_rps: float,
                timeout_s: float, sleep: Callable[[float], None]) -> Downstream:
    # The breaker's name goes into Redis keys and metric labels, so it has no spaces.
    return Downstream(name, SharedBreaker(name.replace(" ", "-"), connection, fail_max, reset_s),
                      RetryPolicy(sleep=sleep), Throttle(max_rps), timeout_s)


def build_services(settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> Services:
    """`sleep` is what retries wait with between attempts: tests pass a recorder instead of waiting 7 s."""
    # Bytes, not str: RQ and pybreaker's Redis storage both need a client without decode_responses.
    connection = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2,
                                      health_check_interval=30)
    crm_downstream = _downstream("CRM", connection, settings.crm_breaker_fail_max, settings.crm_breaker_reset_s,
                                 settings.crm_max_rps, settings.crm_timeout_s, sleep)
    # Slack is paced per channel (ChannelPacer), not by a process-wide throttle.
    slack_downstream = _downstream("Slack", connection, settings.slack_breaker_fail_max,
                                   settings.slack_breaker_reset_s, 0, settings.slack_timeout_s, sleep)
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    web_client = WebClient(
        token=token, base_url=settings.slack_api_url, timeout=int(settings.slack_timeout_s), retry_handlers=[]
    )
    crm_token = settings.crm_api_token.get_secret_value() if settings.crm_api_token else None
    jobs = JobQueue(connection)
    db = Database(settings.database_url)
    http_tool_downstream = _downstream("HTTP tools", connection, settings.http_tool_breaker_fail_max,
                                       settings.http_tool_breaker_reset_s, settings.http_tool_max_rps,
                                       settings.http_tool_timeout_s, sleep)
    return Services(
        settings=settings,
        redis=connection,
        jobs=jobs,
        notifications=NotificationStore(connection),
        crm_downstream=crm_downstream,
        slack_downstream=slack_downstream,
        crm=CrmClient(base_url=settings.crm_base_url, downstream=crm_downstream, token=crm_token),
        slack=SlackPoster(
            client=web_client,
            downstream=slack_downstream,
            api_url=settings.slack_api_url,
            pacer=ChannelPacer(connection, settings.slack_channel_interval_s, settings.slack_channel_burst),
        ),
        db=db,
        runs=RunService(db, jobs, EventPublisher(connection)),
        tools=ToolCatalog(db),
        http_tool_downstream=http_tool_downstream,
        http_tools=HttpToolClient(
            downstream=http_tool_downstream,
            allowed_hosts=settings.http_tool_host_set,
            secrets={name: value.get_secret_value() for name, value in settings.tool_secrets.items()},
        ),
    )
