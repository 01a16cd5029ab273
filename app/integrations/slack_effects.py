"""Each Slack effect of a job made once, however often the job runs: a record per effect, in Redis.

An effect (a message posted, files shared, a response_url answered) is recorded under the job's stable id (its
first RQ job's: a later run, or the same job queued again after its worker died, has the same one), the call's
fingerprint, and how many times this run made the same call before it (a job may mean to post the same text
twice). The record reads:

    absent             never tried, or known not to have reached Slack
    {"maybe": t}       an attempt begun at t may have reached Slack (a 5xx, a timeout, a worker that died in
                       the call): look in the conversation for the effect's key before trying again
    {"done": answer}   made: its answer (the message's ts) stands for the call, which is not made again

Costs one round trip before the call (mark it "maybe" unless recorded, and read the record, pipelined) and one
after (done); a failed call adds one to put the record right. Redis failing costs the guarantee, not the post.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis

log = logging.getLogger(__name__)
T = TypeVar("T")
EFFECT_EVENT_TYPE = "acme_effect"
# Longer than a job waits for Slack (SLACK_GIVE_UP_AFTER_S, an hour by default) and than RQ keeps its result.
RECORD_TTL_S = 24 * 3600


def fingerprint(call: tuple[Any, ...]) -> str:
    return hashlib.sha256(json.dumps(call, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass
class Effect:
    """One effect of one run: its key (carried in the message's metadata, so it can be found in Slack), and since
    when an attempt may have reached Slack without our knowing (this run's, or an earlier run's)."""

    key: str
    unsure_since: float | None = None
    recorded_since: float | None = None  # what the record says of it, before this run's attempts

    def metadata(self) -> dict[str, Any]:
        """Slack message metadata naming the effect: conversations.history shows it to whoever looks."""
        return {"event_type": EFFECT_EVENT_TYPE, "event_payload": {"effect": self.key}}

    def sent_unsure(self, started_at: float) -> None:
        """An attempt begun at `started_at` may have reached Slack: the next one looks first."""
        if self.unsure_since is None:
            self.unsure_since = started_at

    def not_made(self) -> None:
        """Looked for, not found (or a definite refusal): nothing of it is in Slack."""
        self.unsure_since = None

    def settling(self) -> float | None | bool:
        """What the record must say after a failed call: False to leave it, None to drop it, t for "maybe: t"."""
        if self.unsure_since is None:
            return None if self.recorded_since is not None else False
        if self.recorded_since is not None and self.recorded_since <= self.unsure_since:
            return False  # it already says "maybe" since earlier: a wider look, still right
        return self.unsure_since


def carries_effect(message: dict[str, Any], key: str) -> bool:
    """Whether a message from conversations.history (include_all_metadata) is the effect with `key`."""
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return metadata.get("event_type") == EFFECT_EVENT_TYPE and payload.get("effect") == key


def unrecorded_effect() -> Effect:
    """An effect outside any job: its key still lets the quick retries of one call find what it posted."""
    return Effect(uuid.uuid4().hex)


class EffectRecords:
    """The records of every job's effects, in Redis (one hash per job)."""

    def __init__(self, connection: redis.Redis, ttl_s: int = RECORD_TTL_S,
                 clock: Callable[[], float] = time.time) -> None:
        self._redis = connection
        self._ttl_s = ttl_s
        self._clock = clock

    def ledger(self, job_key: str) -> EffectLedger:
        """For one run of the job `job_key`."""
        return EffectLedger(self, job_key)

    def claim(self, key: str, slot: str) -> tuple[bool, Any, float | None, bool]:
        """(done, its answer, "maybe" since when, whether this claim marked it) for `slot`, marking it "maybe,
        from now" when it had no record."""
        now = self._clock()
        pipe = self._redis.pipeline(transaction=False)
        pipe.hsetnx(key, slot, json.dumps({"maybe": now}))
        pipe.expire(key, self._ttl_s)
        claimed, _ = pipe.execute()
        if claimed:
            return False, None, now, True
        # A record from an earlier run of the job: the only case that needs reading it.
        raw = self._redis.hget(key, slot)
        record = json.loads(raw) if raw else {}
        if "done" in record:
            return True, record["done"], None, False
        return False, None, float(record.get("maybe", now)), bool(claimed)

    def write(self, key: str, slot: str, record: dict[str, Any] | None) -> None:
        if record is None:
            self._redis.hdel(key, slot)
        else:
            self._redis.hset(key, slot, json.dumps(record))


class EffectLedger:
    """One run of one job: each effect made at most once across its runs."""

    def __init__(self, records: EffectRecords, job_key: str) -> None:
        self._records = records
        self._job_key = job_key
        self._key = f"acme:slack:effects:{job_key}"
        self._made: dict[str, int] = {}

    def once(self, call: tuple[Any, ...], make: Callable[[Effect], T]) -> T:
        """`make` the call, unless a run of this job made it: then its answer. `make` gets the effect, to tag
        the message and to look for it before trying again after an unknown outcome."""
        mark = fingerprint(call)
        slot = f"{mark}:{self._made.get(mark, 0)}"
        self._made[mark] = self._made.get(mark, 0) + 1
        effect = Effect(hashlib.sha256(f"{self._job_key}:{slot}".encode()).hexdigest()[:32])
        try:
            done, answer, since, marked_now = self._records.claim(self._key, slot)
        except redis.RedisError as exc:
            log.warning("no record of Slack effect %s of job %s (Redis: %s); made without one", slot,
                        self._job_key, exc)
            return make(effect)
        if done:
            made: T = answer
            return made
        effect.recorded_since = since
        # Marked by this claim, nothing was sent yet; marked before, an earlier run may have sent it.
        effect.unsure_since = None if marked_now else since
        try:
            answer = make(effect)
        except BaseException:
            self._settle(slot, effect)
            raise
        self._write(slot, {"done": answer})
        return answer

    def _settle(self, slot: str, effect: Effect) -> None:
        settled = effect.settling()
        if settled is not False:
            self._write(slot, None if settled is None else {"maybe": settled})

    def _write(self, slot: str, record: dict[str, Any] | None) -> None:
        try:
            self._records.write(self._key, slot, record)
        except redis.RedisError as exc:
            log.warning("could not record Slack effect %s of job %s (Redis: %s)", slot, self._job_key, exc)
