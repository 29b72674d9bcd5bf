"""HTTP views of the worker: /kpis, /metrics, /health, /ready."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from .app import ShopPulse

RESERVED_PARAMS = {"kpi", "window", "final"}


def parse_final(raw: str | None) -> bool | None:
    if raw is None or raw == "":
        return None
    if raw.lower() in {"true", "1", "yes"}:
        return True
    if raw.lower() in {"false", "0", "no"}:
        return False
    raise ValueError("final must be true or false")


def register_views(shop: ShopPulse) -> None:
    app = shop.app

    @app.page("/kpis", name="kpis")
    class Kpis(View):
        async def get(self, request: Request) -> Response:
            query = dict(request.query)
            try:
                final = parse_final(query.get("final"))
            except ValueError as exc:
                return self.json({"error": "bad_request", "detail": str(exc)}, status=400)
            dims = {k: v for k, v in query.items() if k not in RESERVED_PARAMS}
            try:
                snapshots = await shop.serving.query(query.get("kpi"), query.get("window"), final, dims)
            except Exception as exc:
                return self.json({"error": "serving_store_unavailable", "detail": str(exc)}, status=503)
            return self.json({"count": len(snapshots), "snapshots": snapshots})

    @app.page("/metrics", name="metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            shop.metrics.record_engine(shop.engine)
            return self.bytes(generate_latest(shop.registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/health", name="health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok", "time": time.time()})

    @app.page("/ready", name="ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            ready = shop.is_ready()
            body = {"ready": ready, "role": shop.role, "state_loaded": shop.loaded, "consuming": shop.started_consuming,
                    "watermark": None if shop.engine.watermark == float("-inf") else shop.engine.watermark,
                    "serving_store": shop.serving.healthy,
                    "stream_time_held": shop.engine.clock.hold or bool(shop.engine.clock.unseen_with_backlog)}
            return self.json(body, status=200 if ready else 503)
