"""Per-channel pacing of Slack messages, shared by every process through Redis.

Slack allows about one message per second per channel, with short bursts. Each
message reserves the next free slot (GCRA) in one atomic script on Redis' own
clock: a burst is spread out, and nothing is dropped. A caller either sleeps until
its slot (`wait_turn`), or, when the wait is long, gives its worker back and comes
again later (`take_turn`): then the message keeps its place in the channel's line,
so that no message overtakes one reserved before it, whichever worker or queue
runs it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)

# GCRA on Redis' clock. KEYS[1]: the key's theoretical arrival time (µs). ARGV: interval µs, burst,
# and "wait" (take the next slot, however far) or "refuse" (take a slot only if one is free now).
# Answers the µs to wait: 0 means go now.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = (tonumber(ARGV[2]) - 1) * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now - tolerance
if wait < 0 then wait = 0 end
if wait > 0 and ARGV[3] == 'refuse' then return wait end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil((tat + interval - now) / 1000) + 1000)
return wait
"""

# A turn in a channel's line, on Redis' clock (µs). KEYS[1]: the channel's GCRA time; KEYS[2]: its line (a sorted
# set of waiting tokens by slot); KEYS[3]: each waiting token's lease, "due:expires" (when it comes again; when its
# place is given up if it has not). ARGV: interval, burst, token, its slot (0: reserve the next one), the longest
# wait slept rather than waited in line, how long after a live predecessor's due time to look again, the lease's
# grace past its due time, the least wait, and how late a message ahead may be before the ones behind it go ahead.
# Answers {wait, slot}; a turn that must wait longer than the longest sleep is (still) in line. A message ahead that
# is late (its job not yet run again: RQ's scheduler counts whole seconds, and a busy queue adds more) is looked at
# again every recheck until it is that late; a place left by a job that never comes back holds no longer. Numbers
# go into strings with %.0f: Lua's own tostring rounds to 14 digits.
_TURN = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local token = ARGV[3]
local slot = tonumber(ARGV[4])
if slot == 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
  slot = math.max(tat - (tonumber(ARGV[2]) - 1) * interval, now)
  redis.call('SET', KEYS[1], string.format('%.0f', tat + interval),
             'PX', math.ceil((tat + interval - now) / 1000) + 1000)
end
local wait = math.max(slot - now, tonumber(ARGV[8]))
for _, other in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', string.format('(%.0f', slot))) do
  if other ~= token then
    local due, expires = string.match(redis.call('HGET', KEYS[3], other) or '0:0', '(%d+):(%d+)')
    if tonumber(expires) < now then
      redis.call('ZREM', KEYS[2], other)
      redis.call('HDEL', KEYS[3], other)
    else
      local late = now - tonumber(due)
      if late < tonumber(ARGV[9]) then
        wait = math.max(wait, math.max(-late, 0) + tonumber(ARGV[6]))
      end
    end
  end
end
if wait > tonumber(ARGV[5]) then
  local grace = tonumber(ARGV[7])
  redis.call('ZADD', KEYS[2], string.format('%.0f', slot), token)
  redis.call('HSET', KEYS[3], token, string.format('%.0f:%.0f', now + wait, now + wait + grace))
  local keep_ms = math.ceil((wait + grace) / 1000)
  for i = 2, 3 do
    if redis.call('PTTL', KEYS[i]) < keep_ms then redis.call('PEXPIRE', KEYS[i], keep_ms) end
  end
end
return {wait, slot}
"""


class RateGate:
    """One GCRA limiter per key, shared by every process through Redis."""

    def __init__(self, connection: redis.Redis, interval_s: float, burst: int) -> None:
        self._script = connection.register_script(_GCRA)
        self._args = [int(interval_s * 1e6), burst]

    def reserve(self, key: str) -> float:
        """Take the key's next slot; answers the seconds until it comes."""
        return int(self._script(keys=[key], args=[*self._args, "wait"])) / 1e6

    def try_take(self, key: str) -> float:
        """Take a slot if one is free now (answers 0); otherwise take nothing and answer the seconds to wait."""
        return int(self._script(keys=[key], args=[*self._args, "refuse"])) / 1e6


@dataclass(frozen=True)
class Turn:
    """A message's slot in its channel (µs on Redis' clock), and how long it must still wait for it."""

    token: str
    slot_us: int
    wait_s: float = 0.0
    # Placed in the channel's line: only then is there a place to leave (most messages go in their turn at once).
    in_line: bool = False


# A message ahead that comes back late (RQ's scheduler queues in whole seconds and looks once a second; a busy
# queue adds more) is waited for this long past its due time; a place left by a job that never comes back holds
# the ones behind it no longer than this.
OVERTAKE_AFTER_S = 5.0


class ChannelPacer:
    def __init__(self, connection: redis.Redis, interval_s: float = 1.0, burst: int = 3,
                 sleep: Callable[[float], None] = time.sleep, recheck_s: float = 1.0,
                 lease_grace_s: float = 300.0, overtake_after_s: float = OVERTAKE_AFTER_S) -> None:
        """`recheck_s`: how long a later message waits before looking again at an earlier one that has not gone;
        `lease_grace_s`: how long past its due time a waiting message keeps its place (a job lost with its worker
        gives it up); `overtake_after_s`: how late past its due time an earlier message is still waited for."""
        if interval_s < 0 or burst < 1:
            raise ValueError("interval_s must be >= 0 and burst >= 1")
        self.interval_s = interval_s
        self._gate = RateGate(connection, interval_s, burst)
        self._redis = connection
        self._turn = connection.register_script(_TURN)
        self._args = [int(interval_s * 1e6), burst]
        self._sleep = sleep
        self._recheck_us = int(recheck_s * 1e6)
        self._grace_us = int(lease_grace_s * 1e6)
        self._overtake_after_us = int(overtake_after_s * 1e6)

    def wait_turn(self, channel: str) -> float:
        """Block until `channel` may take one more message; answers the seconds waited."""
        if self.interval_s == 0:
            return 0.0
        try:
            wait_s = self._gate.reserve(f"acme:pace:{channel}")
        except redis.RedisError as exc:
            self._unpaced(channel, exc)
            return 0.0
        if wait_s > 0:
            self._sleep(wait_s)
        return wait_s

    def take_turn(self, channel: str, held: Turn | None, longest_sleep_s: float) -> Turn:
        """The message's turn: `held` (its place from an earlier try) or the next slot.

        A wait up to `longest_sleep_s` is slept here and the turn answered with no wait left; a longer one (its
        slot is later, or a message ahead of it in line has not gone yet) is answered at once, its place kept in
        line until `leave`.
        """
        if self.interval_s == 0:
            return Turn("", 0)
        try:
            turn = self._line_up(channel, held or Turn(uuid.uuid4().hex, 0), longest_sleep_s, 0.0)
        except redis.RedisError as exc:
            self._unpaced(channel, exc)
            return Turn(held.token if held else "", held.slot_us if held else 0, in_line=bool(held and held.in_line))
        if turn.wait_s > longest_sleep_s:
            return turn
        if turn.wait_s > 0:
            self._sleep(turn.wait_s)
        return Turn(turn.token, turn.slot_us, in_line=turn.in_line)

    @staticmethod
    def _unpaced(channel: str, exc: redis.RedisError) -> None:
        # A message in flight is not failed for want of its place in line: it goes now, and Slack's own limit
        # (a 429 and its Retry-After) still holds. Only what was running when Redis went is affected: nothing
        # new is queued until it is back.
        log.warning("pacing %s: Redis did not answer (%s); the message goes without waiting for its turn", channel, exc)

    def wait_again(self, channel: str, turn: Turn, wait_s: float) -> Turn:
        """A message that tried in its turn and must try again in `wait_s` keeps its place in line meanwhile."""
        if self.interval_s == 0:
            return Turn("", 0, wait_s)
        return self._line_up(channel, turn, 0.0, wait_s)

    def leave(self, channel: str, turn: Turn) -> None:
        """The message went (or never will): the ones behind it need not wait for it."""
        if self.interval_s == 0 or not turn.in_line:
            return
        with self._redis.pipeline() as pipe:
            pipe.zrem(f"acme:pace:line:{channel}", turn.token)
            pipe.hdel(f"acme:pace:lease:{channel}", turn.token)
            pipe.execute()

    def _line_up(self, channel: str, turn: Turn, longest_sleep_s: float, least_wait_s: float) -> Turn:
        keys = [f"acme:pace:{channel}", f"acme:pace:line:{channel}", f"acme:pace:lease:{channel}"]
        wait_us, slot_us = self._turn(keys=keys, args=[
            *self._args, turn.token, turn.slot_us, int(longest_sleep_s * 1e6), self._recheck_us, self._grace_us,
            int(least_wait_s * 1e6), self._overtake_after_us])
        placed = int(wait_us) > int(longest_sleep_s * 1e6)
        return Turn(turn.token, int(slot_us), int(wait_us) / 1e6, in_line=turn.in_line or placed)
