"""Choosing a planner from the settings, for `acme plan` and `acme eval`."""

from __future__ import annotations

from app.agent.conversation import Planner, ToolSpec
from app.agent.rules.planner import RulesPlanner
from app.config import Settings, SettingsError
from app.tools.product_tools import PRODUCT_TOOLS


def product_tool_specs() -> tuple[ToolSpec, ...]:
    return tuple(ToolSpec(t.name, t.description, t.parameters) for t in PRODUCT_TOOLS.all())


def planner_named(name: str | None, settings: Settings) -> Planner:
    if name == "llm" or (name is None and settings.llm_base_url):
        raise SettingsError("the llm planner is not built yet")
    return RulesPlanner()
