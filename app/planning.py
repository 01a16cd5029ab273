"""Choosing a planner from the settings, for `acme plan` and `acme eval`."""

from __future__ import annotations

from app.agent.conversation import AgentRequest, Planner, PlannerStep, ToolSpec
from app.agent.llm_planner import LlmPlanner
from app.agent.rules.planner import RulesPlanner
from app.composition import build_llm_client, redis_for
from app.config import Settings, SettingsError
from app.integrations.errors import IntegrationError
from app.tools.product_tools import PRODUCT_TOOLS


def product_tool_specs() -> tuple[ToolSpec, ...]:
    return tuple(ToolSpec(t.name, t.description, t.parameters) for t in PRODUCT_TOOLS.all())


class _ModelOrRules:
    """The llm planner; when the model fails (after its retries, or its breaker is open), the rules answer
    and say so in the plan's `planner`, as in a turn."""

    def __init__(self, model: LlmPlanner) -> None:
        self._model, self._rules = model, RulesPlanner()
        self.name = model.name

    def next_step(self, request: AgentRequest) -> PlannerStep:
        try:
            step = self._model.next_step(request)
            self.name = self._model.name
        except IntegrationError:
            step = self._rules.next_step(request)
            self.name = self._rules.name
        return step


def planner_named(name: str | None, settings: Settings) -> Planner:
    """`llm` needs LLM_BASE_URL and LLM_MODEL (and Redis, where the model's breaker is kept)."""
    if name == "rules" or (name is None and not settings.llm_base_url):
        return RulesPlanner()
    settings.require_model_if_configured(command="plan")
    built = build_llm_client(settings, redis_for(settings))
    if built is None:
        raise SettingsError("the llm planner needs LLM_BASE_URL and LLM_MODEL")
    return _ModelOrRules(LlmPlanner(built[1]))
