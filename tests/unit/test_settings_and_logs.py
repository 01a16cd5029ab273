import io
import logging
from pathlib import Path

import pytest
import redis

from app.config import SettingsError, load_settings
from app.http_tool_origins import HttpToolAllowList
from app.integrations.http_tool_client import HostNotAllowed, HttpToolClient, SecretNotAllowed, SecretNotSet
from app.integrations.resilience import Downstream, RetryPolicy, SharedBreaker
from app.integrations.shared_throttle import SharedThrottle
from app.logs import MaskingFilter, SecretMasker, configure_logging


def test_secret_from_file_and_clear_errors(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("shh-its-a-secret\n")
    settings = load_settings({"SLACK_SIGNING_SECRET_FILE": str(secret_file)})
    assert settings.slack_signing_secret.get_secret_value() == "shh-its-a-secret"  # type: ignore[union-attr]
    assert "shh" not in repr(settings)
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN_FILE"):
        load_settings({"SLACK_BOT_TOKEN_FILE": str(tmp_path / "missing")})


def test_require_names_what_is_missing() -> None:
    settings = load_settings({}, slack_bot_token=None, slack_signing_secret=None)
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET"):
        settings.require("slack_bot_token", "slack_signing_secret", command="serve")


def test_a_malformed_setting_is_named_as_it_is_set_and_never_shows_a_password() -> None:
    for given, said in ((dict(redis_url="http://x"), "REDIS_URL must look like redis://"),
                        (dict(redis_url="redis://h:notaport/0"), "REDIS_URL has a port that is not a number"),
                        (dict(database_url="mysql://u:sekret@h/db"), "DATABASE_URL must be sqlite:///"),
                        (dict(crm_timeout_s="abc"), "CRM_TIMEOUT_S Input should be a valid number")):
        with pytest.raises(SettingsError) as refused:
            load_settings(environ={}, **given)
        message = str(refused.value)
        assert said in message and "sekret" not in message and "pydantic" not in message
    # Heroku's spelling, and the plain one, name the driver this project installs.
    assert load_settings(environ={}, database_url="postgres://u@h/db").database_url == "postgresql+psycopg://u@h/db"


def test_defaults_follow_the_interface() -> None:
    settings = load_settings({}, slack_api_url="http://127.0.0.1:9/api")
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert (settings.crm_breaker_fail_max, settings.crm_breaker_reset_s) == (5, 60)
    with pytest.raises(SettingsError):
        load_settings({}, log_format="xml")


def test_masker_hides_configured_secrets_and_anything_shaped_like_a_slack_token() -> None:
    masker = SecretMasker(["crm-secret-value"])
    masked = masker.mask("token xoxb-123-456-abc and crm-secret-value and xapp-1-A1-99")
    assert "xoxb-123" not in masked and "crm-secret-value" not in masked and "xapp-1" not in masked


def test_socket_mode_tickets_are_masked_even_before_a_handler_sees_the_record() -> None:
    url = "wss://wss-primary.slack.com/link/?ticket=5fc7a1e2-0b6d-4c1e&app_id=A1B2"
    assert SecretMasker().mask(f"connecting to {url}") == (
        "connecting to wss://wss-primary.slack.com/link/?ticket=[redacted]&app_id=A1B2")
    record = logging.LogRecord("lib", logging.DEBUG, __file__, 1, "> GET %s HTTP/1.1", ("/link/?ticket=abc-1",), None)
    assert MaskingFilter().filter(record)
    assert record.getMessage() == "> GET /link/?ticket=[redacted] HTTP/1.1"


def test_log_lines_and_tracebacks_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging("INFO", "json", secrets=["hunter2-secret"])
    try:
        raise ValueError("bad token hunter2-secret")
    except ValueError:
        logging.getLogger("test").exception("failed with hunter2-secret")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    assert "hunter2-secret" not in stream.getvalue()
    assert '"level": "ERROR"' in stream.getvalue()


def test_tool_settings_come_from_the_environment_dotenv_and_files(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TOOL_FROM_DOTENV=dotenv-secret\nTOOL_BOTH=from-dotenv\n")
    (tmp_path / "legacy-key").write_text("file-secret\n")
    monkeypatch.setenv("TOOL_LEGACY_TOKEN", "legacy-secret")
    monkeypatch.setenv("TOOL_BOTH", "from-environment")
    monkeypatch.setenv("TOOL_KEYED_FILE", str(tmp_path / "legacy-key"))
    monkeypatch.setenv("TOOL_KEYED", "loses-to-the-file")
    # Names a tool may choose that look like this module's own: each is just a secret.
    monkeypatch.setenv("TOOL_SECRETS", "not json")
    monkeypatch.setenv("TOOL_FILE", "plain")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-mine")
    settings = load_settings({})
    secrets = {name: value.get_secret_value() for name, value in settings.http_tool_secrets.items()}
    assert secrets == {"TOOL_FROM_DOTENV": "dotenv-secret", "TOOL_BOTH": "from-environment",
                       "TOOL_LEGACY_TOKEN": "legacy-secret", "TOOL_KEYED": "file-secret",
                       "TOOL_SECRETS": "not json", "TOOL_FILE": "plain"}
    assert {"dotenv-secret", "legacy-secret", "file-secret"} <= set(settings.secret_values())
    assert "legacy-secret" not in repr(settings)


def test_an_unreadable_tool_secret_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOOL_GONE_FILE", str(tmp_path / "nothing-here"))
    with pytest.raises(SettingsError, match="TOOL_GONE_FILE"):
        load_settings({})


def test_http_tools_may_send_only_tool_settings() -> None:
    downstream = Downstream("HTTP tools", SharedBreaker("HTTP-tools", redis.Redis(), 1, 1), RetryPolicy(),
                            SharedThrottle(redis.Redis(), "HTTP-tools", 0), 1.0)
    client = HttpToolClient(downstream=downstream, allowed_hosts=HttpToolAllowList(),
                            secrets={"TOOL_LEGACY_TOKEN": "legacy-secret"})
    assert client.secret_headers({"X-Token": "TOOL_LEGACY_TOKEN"}) == {"X-Token": "legacy-secret"}
    with pytest.raises(SecretNotAllowed, match="not a TOOL_"):
        client.secret_headers({"X-Token": "SLACK_BOT_TOKEN"})
    with pytest.raises(SecretNotSet, match="is not set"):
        client.secret_headers({"X-Token": "TOOL_MISSING"})
    with pytest.raises(HostNotAllowed):
        client.call("GET", "http://127.0.0.1:1/x", {}, secret_headers={})
    client.close()


def test_api_settings() -> None:
    settings = load_settings({}, acme_api_keys=" k1, k2 ,", acme_api_rate="600/m")
    assert settings.api_keys == ["k1", "k2"]
    assert settings.api_rate_per_s == 10
    assert "k1" in settings.secret_values() and "k2" in settings.secret_values()
    with pytest.raises(SettingsError):
        load_settings({}, acme_api_rate="lots")
