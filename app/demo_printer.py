"""The console Slack's screen: each message the bot sends, as a person in the channel would see it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TextIO

from app.messages.mrkdwn import unescape
from app.slack_emulator import SlackCall, streamed_text

BOT_NAME = "acme"
# The demo workspace's channels, by name: `#sales` typed in the demo is linked as Slack links it.
CHANNELS = {"demo": "C0DEMO", "sales": "C0SALES", "support": "C0SUPPORT", "general": "C0GENERAL"}
NAMES = {channel_id: f"#{name}" for name, channel_id in CHANNELS.items()}


def _named_channels(text: str) -> str:
    return re.sub(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>",
                  lambda m: NAMES.get(m.group(1), f"#{m.group(2) or m.group(1)}"), text)


def linked(text: str) -> str:
    """`#sales` as Slack sends it once the user picked the channel: `<#C0SALES|sales>`."""
    return re.sub(r"(?<![<\w])#([a-z0-9_-]+)",
                  lambda m: f"<#{CHANNELS[m.group(1)]}|{m.group(1)}>" if m.group(1) in CHANNELS else m.group(0), text)


# Slack draws these emoji codes as pictures; a terminal shows the same characters.
EMOJI = {":red_circle:": "\U0001f534", ":large_orange_circle:": "\U0001f7e0", ":large_blue_circle:": "\U0001f535",
         ":white_circle:": "\u26aa", ":mag:": "\U0001f50d", ":warning:": "\u26a0\ufe0f",
         ":large_green_circle:": "\U0001f7e2", ":large_yellow_circle:": "\U0001f7e1"}


def as_shown(text: str) -> str:
    for code, picture in EMOJI.items():
        text = text.replace(code, picture)
    return _named_channels(text)


def _shown_path(path: Path) -> str:
    """`./acme-demo-output/x.md` when under the current directory (short, and openable from there), else absolute."""
    try:
        return f"./{path.resolve().relative_to(Path.cwd().resolve())}"
    except ValueError:
        return str(path.resolve())


class ChannelPrinter:
    """Prints each message the bot sends as a person in the channel would see it.

    A streamed answer is printed once, when the stream stops, with a line for each tool call as it starts;
    what the agent is doing (its status) is printed in brackets.
    """

    def __init__(self, out: TextIO, uploaded: dict[str, bytes] | None = None,
                 messages: dict[str, dict[str, Any]] | None = None, file_names: dict[str, str] | None = None,
                 save_files_in: Path | None = None) -> None:
        self._out = out
        self._uploaded = uploaded if uploaded is not None else {}
        self._messages = messages if messages is not None else {}
        self._file_names = file_names if file_names is not None else {}
        # Uploaded files (a report and its chart) are saved here, where the user can open them.
        self._save_files_in = save_files_in

    def _write(self, header: str, text: str) -> None:
        body = "\n".join("    " + line for line in text.splitlines())
        self._out.write(f"{header}\n{body}\n" if body else f"{header}\n")
        self._out.flush()

    def _save(self, file_id: str) -> None:
        if self._save_files_in is None or file_id not in self._uploaded:
            return
        self._save_files_in.mkdir(parents=True, exist_ok=True)
        # Only the name's last part: the file stays in the folder whatever name it was uploaded under.
        path = self._save_files_in / Path(self._file_names.get(file_id, file_id)).name
        path.write_bytes(self._uploaded[file_id])
        self._out.write(f"    saved: {_shown_path(path)}\n")
        self._out.flush()

    def __call__(self, call: SlackCall) -> None:
        channel = str(call.payload.get("channel") or call.payload.get("channel_id") or "")
        where = "direct message" if channel.startswith("D") else NAMES.get(channel, channel)
        thread = call.payload.get("thread_ts")
        in_thread = f" in thread {thread}" if thread else ""
        if call.method in ("files.getUploadURLExternal", "chat.startStream", "chat.appendStream"):
            for chunk in call.payload.get("chunks") or []:
                if chunk.get("type") == "task_update" and chunk.get("status") == "in_progress":
                    self._out.write(f"    \u2026 {unescape(str(chunk.get('title', '')))}\n")
            return
        if call.method == "assistant.threads.setStatus":
            if call.payload.get("status"):
                self._out.write(f"[{where}] ({BOT_NAME}: {call.payload['status']})\n")
            return
        if call.method == "chat.stopStream":
            message = self._messages.get(str(call.payload.get("ts")), {})
            shown = SlackCall("chat.postMessage", {"text": message.get("text") or streamed_text(call.payload),
                                                   "blocks": call.payload.get("blocks") or []})
            text = as_shown(unescape(str(shown.payload["text"])))
            buttons = shown.visible_text if shown.payload["blocks"] else ""
            in_thread = f" in thread {message.get('thread_ts')}" if message.get("thread_ts") else ""
            self._write(f"[{where}] {BOT_NAME}{in_thread}:", f"{text}\n{buttons}".strip())
            return
        if call.method == "files.completeUploadExternal":
            files = ", ".join(f"{f.get('title')} ({len(self._uploaded.get(f['id'], b''))} bytes)"
                              for f in call.payload.get("files", []))
            self._write(f"[{where}] {BOT_NAME} uploaded {files}{in_thread}:",
                        as_shown(unescape(str(call.payload.get("initial_comment", "")))))
            for file in call.payload.get("files", []):
                self._save(str(file["id"]))
            return
        if call.method == "response_url" and call.payload.get("response_type") != "in_channel":
            header = f"[{where}] {BOT_NAME} (only visible to you):"
        elif call.method == "chat.postEphemeral":
            header = f"[{where}] {BOT_NAME} (only visible to {call.payload.get('user')}):"
        elif call.method == "chat.update":
            header = f"[{where}] {BOT_NAME} edited its message {call.payload.get('ts')}:"
        else:
            header = f"[{where}] {BOT_NAME}{in_thread}:"
        self._write(header, as_shown(call.visible_text))
