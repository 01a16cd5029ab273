"""What a running tool may use: the worker's downstreams, and the run it is part of."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.domain.system_status import SystemStatus
from app.integrations.crm import CrmClient
from app.integrations.http_tool_client import HttpToolClient
from app.integrations.slack_poster import SlackPoster
from app.jobs.reports import AccountReports


@dataclass(frozen=True)
class ToolContext:
    crm: CrmClient
    slack: SlackPoster
    http: HttpToolClient
    reports: AccountReports
    # Breakers and queues, read from Redis; raises redis.RedisError when Redis does not answer.
    read_status: Callable[[], SystemStatus]
    run_id: str | None = None
    # Who asked, in Slack (an agent's turn): a report they asked for mentions them when it is ready.
    asker: str = ""
    # The run's context values (`{{ context.* }}`): the workflow's, with the run's own over them.
    run_context: dict[str, Any] = field(default_factory=dict)
