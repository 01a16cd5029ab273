"""The composition root: builds Redis, queues, downstreams and clients from Settings, once per process."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from slack_sdk import WebClient

from app.config import Settings
from app.integrations.crm import CrmClient
from app.integrations.pacing import ChannelPacer
from app.integrations.resilience import Downstream, RetryPolicy, SharedBreaker, Throttle
from app.integrations.slack_poster import SlackPoster
from app.jobs.notification_store import NotificationStore
from app.jobs.queue import JobQueue


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

    @property
    def breakers(self) -> list[SharedBreaker]:
        return [self.crm_downstream.breaker, self.slack_downstream.breaker]

    def close(self) -> None:
        self.crm.close()
        self.redis.close()


def build_services(settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> Services:
    """`sleep` is what retries wait with between attempts: tests pass a recorder instead of waiting 7 s."""
    # Bytes, not str: RQ and pybreaker's Redis storage both need a client without decode_responses.
    connection = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2,
                                      health_check_interval=30)
    crm_downstream = Downstream(
        "CRM",
        SharedBreaker("CRM", connection, settings.crm_breaker_fail_max, settings.crm_breaker_reset_s),
        RetryPolicy(sleep=sleep),
        Throttle(settings.crm_max_rps),
        settings.crm_timeout_s,
    )
    slack_downstream = Downstream(
        "Slack",
        SharedBreaker("Slack", connection, settings.slack_breaker_fail_max, settings.slack_breaker_reset_s),
        RetryPolicy(sleep=sleep),
        Throttle(0),
        settings.slack_timeout_s,
    )
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    web_client = WebClient(
        token=token, base_url=settings.slack_api_url, timeout=int(settings.slack_timeout_s), retry_handlers=[]
    )
    crm_token = settings.crm_api_token.get_secret_value() if settings.crm_api_token else None
    return Services(
        settings=settings,
        redis=connection,
        jobs=JobQueue(connection),
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
    )
