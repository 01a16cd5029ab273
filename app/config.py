"""Settings: the environment, a `.env` file, and `*_FILE` paths for secrets.

This is the only module that reads the environment; everything else is handed
a `Settings` by the composition root.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.http_tool_origins import TOOL_SETTING, HttpToolAllowList

SECRET_FIELDS = ("slack_bot_token", "slack_signing_secret", "slack_app_token", "crm_api_token", "crm_webhook_secret",
                 "acme_api_keys", "llm_api_key")
RATE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate(text: str) -> float:
    """`20/s`, `600/m` or `1000/h` as requests per second."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*([smh])\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError("ACME_API_RATE must look like 20/s, 600/m or 1000/h")
    return float(match.group(1)) / RATE_UNITS[match.group(2)]


class SettingsError(Exception):
    """A setting is missing or malformed; the message says which and what to do."""


def _read_secret_file(name: str, path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise SettingsError(f"{name}_FILE names {path!r}, which cannot be read: {exc.strerror}") from None


class _ToolSecrets(PydanticBaseSettingsSource):
    """Every `TOOL_*` setting, as `http_tool_secrets`: their names are chosen by whoever registers
    an HTTP tool, so no field can declare them.

    Read from `.env` and the environment (the environment wins over `.env`), names in any case.
    `TOOL_X_FILE` names a file holding `TOOL_X`, and wins over a plain `TOOL_X`, as a `<NAME>_FILE`
    does for the app's own secrets.
    """

    def __init__(self, settings_cls: type[BaseSettings], dotenv: EnvSettingsSource, env: EnvSettingsSource) -> None:
        super().__init__(settings_cls)
        self._sources = (dotenv, env)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, str] = {}
        for source in self._sources:
            for name, value in source.env_vars.items():
                if value is not None and TOOL_SETTING.fullmatch(name.upper()):
                    found[name.upper()] = value
        files = {name.removesuffix("_FILE"): path for name, path in found.items()
                 if path and name.endswith("_FILE") and TOOL_SETTING.fullmatch(name.removesuffix("_FILE"))}
        secrets = {name: value for name, value in found.items() if name.removesuffix("_FILE") not in files}
        for name, path in files.items():
            secrets[name] = _read_secret_file(name, path)
        return {"http_tool_secrets": secrets} if secrets else {}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        assert isinstance(env_settings, EnvSettingsSource) and isinstance(dotenv_settings, DotEnvSettingsSource)
        return (init_settings, _ToolSecrets(settings_cls, dotenv_settings, env_settings), env_settings,
                dotenv_settings, file_secret_settings)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_notify_channel: str | None = None

    crm_base_url: str = "http://127.0.0.1:8001"
    crm_api_token: SecretStr | None = None
    crm_webhook_secret: SecretStr | None = None
    crm_breaker_fail_max: int = Field(default=5, ge=1)
    crm_breaker_reset_s: float = Field(default=60, gt=0)
    crm_timeout_s: float = Field(default=5.0, gt=0)
    crm_max_rps: float = Field(default=600.0, ge=0)

    # Slack allows about one message per second per channel, with short bursts.
    slack_channel_interval_s: float = Field(default=1.0, ge=0)
    slack_channel_burst: int = Field(default=3, ge=1)
    notify_priorities: str = "high,urgent"
    slack_breaker_fail_max: int = Field(default=5, ge=1)
    slack_breaker_reset_s: float = Field(default=30, gt=0)
    slack_timeout_s: float = Field(default=10.0, gt=0)
    # When Slack still fails after the quick retries, a job runs again this much later (doubling, up to 5 min),
    # until Slack has failed it for `slack_give_up_after_s`.
    slack_retry_later_s: float = Field(default=8.0, gt=0)
    slack_give_up_after_s: float = Field(default=3600.0, gt=0)

    redis_url: str = "redis://127.0.0.1:6379/0"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    database_url: str = "sqlite:///acme.db"
    acme_api_keys: SecretStr | None = None
    acme_api_rate: str = "20/s"
    # A request body past this is refused with 413 while it streams in (Slack's and the CRM's: 256 KiB).
    acme_api_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Live WebSockets (/v1/ws) each server process holds: per API key (per address without keys), and in all.
    acme_api_max_sockets_per_key: int = Field(default=20, ge=1)
    acme_api_max_sockets: int = Field(default=1000, ge=1)
    acme_http_tool_hosts: str = ""
    # Each TOOL_* secret goes to one origin only: `TOOL_NAME=scheme://host:port`, comma-separated.
    acme_http_tool_secret_origins: str = ""
    # Registered HTTP tools are a downstream of their own: legacy systems get their own limits.
    http_tool_timeout_s: float = Field(default=10.0, gt=0)
    http_tool_breaker_fail_max: int = Field(default=5, ge=1)
    http_tool_breaker_reset_s: float = Field(default=60, gt=0)
    http_tool_max_rps: float = Field(default=20.0, ge=0)
    # The values of the TOOL_* settings that HTTP tools' headers name (the field's own name is
    # outside TOOL_*, so that no tool's setting is mistaken for it).
    http_tool_secrets: dict[str, SecretStr] = Field(default_factory=dict)

    # The agent's model: any OpenAI-compatible Chat Completions API. Unset: the rules planner answers.
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_breaker_fail_max: int = Field(default=5, ge=1)
    llm_breaker_reset_s: float = Field(default=60, gt=0)
    llm_max_rps: float = Field(default=50.0, ge=0)
    agent_max_steps: int = Field(default=8, ge=1, le=50)
    # Agent turns at once in each worker process: a turn mostly waits on the model.
    agent_concurrency: int = Field(default=20, ge=1, le=200)
    # Summaries and notifications at once in each worker process: each waits on the CRM and Slack about half
    # its time, so one at a time leaves the process's core idle for those waits.
    worker_threads: int = Field(default=3, ge=1, le=32)
    # How much lower than other processes a worker asks the kernel to schedule it (os.nice); 0: not at all.
    worker_nice: int = Field(default=19, ge=0, le=19)
    # A running job's lease: its worker renews it every third of this; a job whose lease lapses (its worker
    # died) runs again, on any worker. A report's claim is a lease of twice this.
    worker_job_lease_s: int = Field(default=15, ge=3)
    # How long an approval waits for the asker's click, and how many earlier turns a thread remembers.
    agent_approval_ttl_s: int = Field(default=900, ge=1)
    agent_memory_turns: int = Field(default=10, ge=0, le=50)

    log_level: str = "INFO"
    log_format: str = "text"

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value not in ("text", "json"):
            raise ValueError("LOG_FORMAT must be 'text' or 'json'")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_ends_with_slash(cls, value: str) -> str:
        # slack-sdk joins method names onto base_url as plain strings.
        return value if value.endswith("/") else value + "/"

    @field_validator("redis_url")
    @classmethod
    def _redis_url_shape(cls, value: str) -> str:
        scheme, _, rest = value.partition("://")
        if scheme not in ("redis", "rediss", "unix") or not rest:
            raise ValueError("must look like redis://host:6379/0 (or rediss://, unix://)")
        if not re.fullmatch(r"[^/]*://(?:[^/@]*@)?(?:\[[^\]]*\]|[^/:]*)(?::\d*)?(?:/.*)?", value):
            raise ValueError("has a port that is not a number")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_shape(cls, value: str) -> str:
        # postgres:// (Heroku's spelling) and postgresql:// name the driver this project installs: psycopg 3.
        for plain in ("postgres://", "postgresql://"):
            if value.startswith(plain):
                value = "postgresql+psycopg://" + value[len(plain):]
        if not value.startswith(("sqlite:", "postgresql+psycopg:")):
            raise ValueError("must be sqlite:///path.db or postgresql://user@host:5432/name")
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError("is not a database URL") from None
        return value

    @field_validator("acme_api_rate")
    @classmethod
    def _rate_shape(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("acme_http_tool_hosts", "acme_http_tool_secret_origins")
    @classmethod
    def _allow_list_shape(cls, value: str, info: ValidationInfo) -> str:
        HttpToolAllowList.parse(*((value, "") if info.field_name == "acme_http_tool_hosts" else ("", value)))
        return value

    @property
    def api_keys(self) -> list[str]:
        raw = self.acme_api_keys.get_secret_value() if self.acme_api_keys else ""
        return [key.strip() for key in raw.split(",") if key.strip()]

    @property
    def api_rate_per_s(self) -> float:
        return parse_rate(self.acme_api_rate)

    @property
    def http_tool_allow_list(self) -> HttpToolAllowList:
        return HttpToolAllowList.parse(self.acme_http_tool_hosts, self.acme_http_tool_secret_origins)

    @property
    def notify_priority_set(self) -> frozenset[str]:
        return frozenset(p.strip().lower() for p in self.notify_priorities.split(",") if p.strip())

    def secret_values(self) -> list[str]:
        """Every configured secret, so the log filter can mask them."""
        values = []
        for name in SECRET_FIELDS:
            secret = getattr(self, name)
            if secret is not None and secret.get_secret_value():
                values.append(secret.get_secret_value())
        tool_values = [secret.get_secret_value() for secret in self.http_tool_secrets.values()]
        return values + self.api_keys + [value for value in tool_values if value]

    def require_model_if_configured(self, command: str) -> None:
        """A model's address without its name is a mistake worth refusing to start over."""
        if self.llm_base_url and not self.llm_model:
            raise SettingsError(f"`acme {command}` has LLM_BASE_URL but no LLM_MODEL: set the model's name, "
                                f"or unset LLM_BASE_URL to use the rules planner.")

    def require(self, *names: str, command: str) -> None:
        """Refuse to start `command` unless every named setting is present."""
        missing = [name.upper() for name in names if not _present(getattr(self, name))]
        if missing:
            raise SettingsError(
                f"`acme {command}` needs {', '.join(missing)}: set it in the environment, in .env, "
                f"or as a path in {missing[0]}_FILE."
            )


def _present(value: Any) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings, reading each secret from the file named by `<NAME>_FILE` when that is set."""
    env = os.environ if environ is None else environ
    from_files: dict[str, Any] = {}
    for name in SECRET_FIELDS:
        path = env.get(f"{name.upper()}_FILE")
        if path and name not in overrides:
            from_files[name] = _read_secret_file(name.upper(), path)
    try:
        return Settings(**{**from_files, **overrides})
    except ValidationError as exc:
        raise SettingsError(_said_plainly(exc)) from None
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _said_plainly(exc: ValidationError) -> str:
    """Each wrong setting by the name it is set by, what is wrong, and what was given: never a secret, nor a
    URL's user and password."""
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        shown = re.sub(r"://[^/@\s]*@", "://", str(error.get("input", "")))[:80]
        given = "" if name in SECRET_FIELDS or "input" not in error else f" (given: {shown!r})"
        problems.append(f"{name.upper()} {str(error['msg']).removeprefix('Value error, ')}{given}".strip())
    return "; ".join(problems)
