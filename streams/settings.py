"""One typed settings object for the worker and the tools, read from SHOPPULSE_* variables."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields

from processors.config import DEFAULT_FX_RATES, EngineConfig
from processors.windows import parse_duration_s

ENV_PREFIX = "SHOPPULSE_"
SECRET_FIELDS = {"kafka_sasl_password", "redis_password"}


@dataclass(frozen=True)
class Settings:
    """Every field can be set as SHOPPULSE_<FIELD NAME IN CAPITALS>."""

    app_id: str = "shoppulse"
    kafka_bootstrap: str = "127.0.0.1:19092"
    kafka_security_protocol: str = "PLAINTEXT"  # or SSL, SASL_PLAINTEXT, SASL_SSL
    kafka_sasl_mechanism: str = ""  # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    kafka_ssl_cafile: str = ""
    redis_url: str = "redis://127.0.0.1:16379/0"
    redis_password: str = ""
    redis_key_prefix: str = "shoppulse"
    store: str = "rocksdb://"  # or memory://
    data_dir: str = ".run/worker"
    web_host: str = "127.0.0.1"  # bind address; 0.0.0.0 only behind a firewall
    web_port: int = 6066
    partitions: int = 4
    replication_factor: int = 1
    standby_replicas: int = 1  # workers that keep a warm copy of the engine state for a fast takeover
    topic_clickstream: str = "shop.clickstream"
    topic_orders: str = "shop.orders"
    topic_chat: str = "shop.chat"
    topic_support: str = "shop.support"
    topic_marketing: str = "shop.marketing"
    topic_catalog: str = "shop.catalog"
    topic_operations: str = "shop.operations"
    topic_snapshots: str = "shop.kpi.snapshots"
    topic_alerts: str = "shop.kpi.alerts"
    topic_deadletter: str = "shop.deadletter"
    topic_late: str = "shop.kpi.late"
    windows: str = "1m,5m,1h,1d"
    grace: str = "60s"
    session_timeout: str = "30m"
    session_max: str = "24h"
    idle_partition: str = "10s"
    reporting_currency: str = "USD"
    fx_rates: str = ""  # e.g. "EUR=1.08,GBP=1.27": units of the reporting currency per unit
    count_bot_chat_replies: bool = False
    churn_horizon: str = "90d"  # a customer churns this long after their last order
    store_timezone: str = "UTC"  # IANA zone, e.g. Asia/Shanghai: the hour of sessions_by_hour, revenue_by_hour
    tracked_sources: str = ""  # e.g. "aff-1042,newsletter": sources kept as `source`/`affiliate` labels
    interim_interval: str = "5s"
    state_snapshot_interval: str = "60s"  # at least this long between full state snapshots (streams/state_table.py)
    batch_max_events: int = 2000
    batch_within: str = "50ms"
    max_label_values: int = 50
    max_event_bytes: int = 64 * 1024
    max_batch_bytes: int = 1024 * 1024
    log_level: str = "info"
    alert_rules: str = "deploy/alerts/default.yaml"  # YAML rule file (processors/alerts.py); "" = no alerts
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _convert(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def input_topics(self) -> list[str]:
        return [self.topic_clickstream, self.topic_orders, self.topic_chat, self.topic_support,
                self.topic_marketing, self.topic_catalog, self.topic_operations]

    def topic_types(self) -> dict[str, frozenset[str]]:
        """Event types allowed per configured input topic name."""
        from schemas.catalog import topic_types

        return topic_types({"shop.clickstream": self.topic_clickstream, "shop.orders": self.topic_orders,
                            "shop.chat": self.topic_chat, "shop.support": self.topic_support,
                            "shop.marketing": self.topic_marketing, "shop.catalog": self.topic_catalog,
                            "shop.operations": self.topic_operations})

    @property
    def lease_topic(self) -> str:
        """One partition; the worker it is assigned to runs the engine (streams/app.py)."""
        return f"{self.app_id}-engine-lease"

    @property
    def state_changelog_topic(self) -> str:
        """Faust's name for the changelog of the `engine_state` table."""
        return f"{self.app_id}-engine_state-changelog"

    @property
    def output_topics(self) -> list[str]:
        return [self.topic_snapshots, self.topic_alerts, self.topic_deadletter, self.topic_late]

    def engine_config(self) -> EngineConfig:
        rates = dict(DEFAULT_FX_RATES)
        for pair in filter(None, (p.strip() for p in self.fx_rates.split(","))):
            code, _, rate = pair.partition("=")
            rates[code.strip().upper()] = float(rate)
        rates[self.reporting_currency] = 1.0
        return EngineConfig(
            window_sizes_s=tuple(int(parse_duration_s(w)) for w in self.windows.split(",") if w.strip()),
            grace_s=parse_duration_s(self.grace),
            session_timeout_s=parse_duration_s(self.session_timeout),
            session_max_s=parse_duration_s(self.session_max),
            idle_partition_s=parse_duration_s(self.idle_partition),
            reporting_currency=self.reporting_currency,
            fx_rates=rates,
            count_bot_chat_replies=self.count_bot_chat_replies,
            max_label_values=self.max_label_values,
            churn_horizon_s=parse_duration_s(self.churn_horizon),
            store_timezone=self.store_timezone,
            tracked_sources=tuple(s.strip().lower() for s in self.tracked_sources.split(",") if s.strip()),
        )

    def redacted(self) -> dict:
        """Settings as a dict with secrets masked, safe to log."""
        out = dataclasses.asdict(self)
        for name in SECRET_FIELDS:
            if out.get(name):
                out[name] = "***"
        out.pop("extra", None)
        return out


def _convert(f, raw: str):
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "str")
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return raw
