"""The serving store: latest KPI snapshots in Redis, shared by every worker for GET /kpis."""
from __future__ import annotations

import logging
import time

import orjson
import redis.asyncio as aioredis

from .records import serving_field

log = logging.getLogger(__name__)

RETRY_AFTER_S = 2.0  # while Redis is unreachable, try again at most this often

# Keys: {prefix}:latest:final and {prefix}:latest:interim, hashes of
# "kpi|window|dims" -> snapshot JSON. A field is only replaced by a snapshot of the same
# or a later window (the Lua script compares window_start), so several workers and
# replays after a crash never move a value backwards.
_PUT_IF_NEWER = """
local n = 0
for i = 1, #ARGV, 3 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  if (not old) or cjson.decode(old)['window_start'] <= ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    n = n + 1
  end
end
return n
"""


class ServingStore:
    def __init__(self, url: str, prefix: str = "shoppulse", password: str = "", max_backlog: int = 200_000):
        self.client = aioredis.from_url(url, password=password or None, socket_timeout=2.0,
                                        socket_connect_timeout=2.0)
        self.prefix = prefix
        self.max_backlog = max_backlog
        self._backlog: dict[tuple[bool, str], dict] = {}
        self._script = self.client.register_script(_PUT_IF_NEWER)
        self.healthy = False
        self._last_failure = -RETRY_AFTER_S

    def key(self, final: bool) -> str:
        return f"{self.prefix}:latest:{'final' if final else 'interim'}"

    def stage(self, snapshots: list[dict]) -> None:
        """Queue snapshots; only the newest per field is kept while Redis is unreachable."""
        for snap in snapshots:
            field = (snap["final"], serving_field(snap))
            old = self._backlog.get(field)
            if old is None or old["window_start"] <= snap["window_start"]:
                self._backlog[field] = snap
        if len(self._backlog) > self.max_backlog:
            log.warning("serving backlog over %d fields; dropping interim values", self.max_backlog)
            for field in [f for f in self._backlog if not f[0]]:
                del self._backlog[field]

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    async def flush(self) -> bool:
        if not self._backlog:
            return True
        if not self.healthy and time.monotonic() - self._last_failure < RETRY_AFTER_S:
            return False  # Redis is down: do not hold up every batch on a connect timeout

        pending, self._backlog = self._backlog, {}
        try:
            for final in (True, False):
                args: list = []
                for (is_final, field), snap in pending.items():
                    if is_final == final:
                        args += [field, snap["window_start"], orjson.dumps(snap)]
                for i in range(0, len(args), 3000):
                    await self._script(keys=[self.key(final)], args=args[i:i + 3000])
            self.healthy = True
            return True
        except Exception as exc:  # Redis down or slow: keep the values, retry on the next flush.
            if self.healthy or not hasattr(self, "_warned"):
                log.warning("serving store unavailable (%s); %d snapshots kept for retry", exc, len(pending))
                self._warned = True
            self.healthy = False
            self._last_failure = time.monotonic()
            for field, snap in pending.items():
                self._backlog.setdefault(field, snap)
            return False

    async def query(self, kpi: str | None = None, window: str | None = None, final: bool | None = None,
                    dims: dict[str, str] | None = None) -> list[dict]:
        finals = (True, False) if final is None else (final,)
        results = []
        for is_final in finals:
            raw = await self.client.hgetall(self.key(is_final))
            for field, value in raw.items():
                f_kpi, f_window, _ = field.decode().split("|", 2)
                if kpi and f_kpi != kpi or window and f_window != window:
                    continue
                snap = orjson.loads(value)
                if dims and any(snap["dims"].get(k) != v for k, v in dims.items()):
                    continue
                results.append(snap)
        results.sort(key=lambda s: (s["kpi"], s["window"], sorted(s["dims"].items()), not s["final"]))
        return results

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except Exception:
            return False
