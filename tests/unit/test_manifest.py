"""manifest.yml against Slack's official manifest schema (kept outside the project, in shared/)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = Path(os.environ.get("SLACK_MANIFEST_SCHEMA_DIR", ROOT.parent / "shared" / "slack-manifest-schema"))
REMOTE_SCHEMAS = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"


MANIFESTS = ("manifest.yml", "manifest.socket-mode.yml")


def manifest(name: str = "manifest.yml") -> dict:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.mark.skipif(not (SCHEMA_DIR / "manifest.schema.json").exists(),
                    reason=f"Slack's manifest schema is not at {SCHEMA_DIR} (set SLACK_MANIFEST_SCHEMA_DIR)")
@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_validates_against_slacks_schema(name: str) -> None:
    # The schema refers to its parts by URL; resolve them from the local copy, never the network.
    registry = Registry().with_resources(
        (REMOTE_SCHEMAS + path.name, Resource.from_contents(json.loads(path.read_text())))
        for path in (SCHEMA_DIR / "schemas").glob("*.json")
    )
    schema = json.loads((SCHEMA_DIR / "manifest.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema, registry=registry)
    errors = sorted(validator.iter_errors(manifest(name)), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_manifest_points_slack_at_our_one_request_url_and_asks_only_for_scopes_we_use() -> None:
    data = manifest()
    urls = [data["features"]["slash_commands"][0]["url"], data["settings"]["event_subscriptions"]["request_url"],
            data["settings"]["interactivity"]["request_url"]]
    assert all(url.endswith("/slack/events") for url in urls)
    assert data["features"]["slash_commands"][0]["command"] == "/acme"
    # Mentions, direct messages and replies in the agent's threads; nothing the bot does not act on.
    assert data["settings"]["event_subscriptions"]["bot_events"] == ["app_mention", "message.channels",
                                                                     "message.groups", "message.im"]
    scopes = sorted(data["oauth_config"]["scopes"]["bot"])
    assert scopes == ["app_mentions:read", "assistant:write", "channels:history", "chat:write", "commands",
                      "files:write", "groups:history", "im:history"]
    assert data["features"]["app_home"]["messages_tab_enabled"] is True
    assert data["features"]["agent_view"]["agent_description"]


def test_the_socket_mode_manifest_is_the_same_app_without_request_urls() -> None:
    over_http, over_socket = manifest("manifest.yml"), manifest("manifest.socket-mode.yml")
    assert over_http["settings"]["socket_mode_enabled"] is False
    assert over_socket["settings"]["socket_mode_enabled"] is True
    # Slack sends everything over the socket: no URL of ours appears.
    assert "example.com" not in json.dumps(over_socket)
    del over_http["features"]["slash_commands"][0]["url"]
    del over_http["settings"]["event_subscriptions"]["request_url"]
    del over_http["settings"]["interactivity"]["request_url"]
    over_http["settings"]["socket_mode_enabled"] = True
    assert over_socket == over_http
