"""The Faust application: topics, the engine lease and state table, the input loop, timers, views.

Workers with one app id form one Faust consumer group. Exactly one of them holds the
*engine lease*: partition 0 of a one-partition lease topic, co-partitioned with the
one-partition engine-state table, so Faust assigns the table's active partition to the
lease holder and recovers it there from the changelog. The holder loads the state and
reads every input partition from the offsets the state names; the other workers are
standbys (table standby replicas) that take over within the group's session timeout when
the holder dies, and serve /kpis, /health and /ready meanwhile.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
import time

import faust
from faust.types import TP
from prometheus_client import CollectorRegistry

from processors.engine import KpiEngine
from schemas.decoder import Limits

from .alerting import Alerting, PersistedState, configured_rules
from .metrics import KpiCollector, OperationalMetrics
from .inputs import InputReader
from .pipeline import Pipeline
from .serving import ServingStore
from .settings import Settings
from .state_table import EngineStateTable
from .web import register_views

log = logging.getLogger("shoppulse")
CATCHING_UP_BATCHES = 10
GC_YOUNG_THRESHOLD = 50_000
RETRY_S = 2.0


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)


def broker_credentials(settings: Settings):
    """SASL/SSL credentials for Faust's Kafka client, or None for plaintext."""
    protocol = settings.kafka_security_protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    context = _ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username, password=settings.kafka_sasl_password,
        mechanism=settings.kafka_sasl_mechanism or "PLAIN",
        ssl_context=context if protocol == "SASL_SSL" else None)


def aiokafka_security(settings: Settings) -> dict:
    """aiokafka client options (the engine's input reader) for the configured SASL/SSL settings."""
    protocol = settings.kafka_security_protocol.upper()
    options: dict = {"security_protocol": protocol}
    if "SSL" in protocol:
        options["ssl_context"] = _ssl_context(settings)
    if protocol.startswith("SASL"):
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism or "PLAIN",
                       sasl_plain_username=settings.kafka_sasl_username,
                       sasl_plain_password=settings.kafka_sasl_password)
    return options


class ShopPulse:
    """Owns the Faust app and everything the worker shares between loops, timers and views."""

    def __init__(self, settings: Settings, alert_rules=None):
        self.settings = settings
        self.app = faust.App(
            settings.app_id,
            broker=f"kafka://{settings.kafka_bootstrap}",
            broker_credentials=broker_credentials(settings),
            store=settings.store,
            datadir=settings.data_dir,
            web_bind=settings.web_host,
            web_host=settings.web_host,
            web_port=settings.web_port,
            topic_partitions=settings.partitions,
            topic_replication_factor=settings.replication_factor,
            consumer_auto_offset_reset="earliest",
            autodiscover=False,
            producer_linger_ms=5,
            web_enabled=True,
            # Standbys keep a copy of the engine state, so taking over reads little.
            table_standby_replicas=settings.standby_replicas,
            # A killed worker's lease moves on after 10 s instead of Faust's 60 s default.
            broker_session_timeout=10.0,
            broker_heartbeat_interval=2.0,
        )
        self.rules = configured_rules(settings) if alert_rules is None else alert_rules
        self.registry = CollectorRegistry()
        self.kpi_collector = KpiCollector()
        self.registry.register(self.kpi_collector)
        self.metrics = OperationalMetrics(self.registry)
        self.serving = ServingStore(settings.redis_url, settings.redis_key_prefix, settings.redis_password)
        self.state = EngineStateTable(self.app, "engine_state", 1, _seconds(settings.state_snapshot_interval))
        self._new_engine()
        self.role = "starting"  # then "active" (holds the engine lease) or "standby"
        self.active = False
        self.started_consuming = False
        self._lease_granted = asyncio.Event()
        self._revocations = 0
        self._serving_flush: asyncio.Future | None = None
        self._publishing = asyncio.Lock()  # checkpoints must not interleave
        self._interim_s = _seconds(settings.interim_interval)
        self._within_s = _seconds(settings.batch_within)
        self._define_topics()
        self._define_tasks()
        self.app.on_rebalance_complete.connect(self._on_rebalance_complete)
        self.app.on_partitions_revoked.connect(self._on_partitions_revoked)
        register_views(self)

    def _new_engine(self) -> None:
        """A fresh engine, pipeline and alert state, to be loaded from the table."""
        s = self.settings
        self.engine = KpiEngine(s.engine_config())
        self.engine.clock.hold = True  # until the backlog of every input partition is known
        self.pipeline = Pipeline(self.engine, Limits(s.max_event_bytes, s.max_batch_bytes), s.topic_types())
        self.alerting = Alerting(self.rules)
        self.persisted = PersistedState(self.engine, self.alerting.evaluator)  # one table, saved together
        self.loaded = False
        self.catching_up = False  # far more unread input than one batch (a replay or a restart)
        self.reader: InputReader | None = None
        self._last_interim = 0.0

    def _define_topics(self) -> None:
        s, app = self.settings, self.app
        raw = {"key_serializer": "raw", "value_serializer": "raw"}
        self.lease_topic = app.topic(s.lease_topic, partitions=1, **raw)
        self.snapshots_topic = app.topic(s.topic_snapshots, **raw)
        self.deadletter_topic = app.topic(s.topic_deadletter, **raw)
        self.late_topic = app.topic(s.topic_late, **raw)
        self.alerts_topic = app.topic(s.topic_alerts, **raw)

    def _define_tasks(self) -> None:
        app = self.app

        @app.agent(self.lease_topic, name="hold_engine_lease")
        async def hold_engine_lease(stream):
            """Joins the group for the lease partition; nothing is ever written to it."""
            async for _ in stream:
                pass

        @app.task
        async def compute_kpis():
            """While this worker holds the engine lease: read every input partition, compute, publish."""
            while not app.should_stop:
                await self._lease_granted.wait()
                self._lease_granted.clear()
                if not self._holds_lease():
                    continue
                try:
                    await self._run_engine()
                except Exception:  # e.g. Kafka unreachable while taking over: try again
                    log.exception("engine stopped; retrying in %.0f s while the lease is held", RETRY_S)
                    await asyncio.sleep(RETRY_S)
                    self._lease_granted.set()

        @app.timer(min(1.0, self._interim_s), name="advance_stream_time")
        async def advance_stream_time():
            """Finalize windows when partitions go idle; emit interim snapshots; retry Redis."""
            if not (self.active and self.loaded):
                self.metrics.ready.set(1 if self.is_ready() else 0)
                return
            self.update_consumer_lag()
            out = self.pipeline.tick()
            self._add_interim(out)
            await self.publish(out)

        self.hold_engine_lease = hold_engine_lease

    # ------------------------------------------------------------ the lease
    def _holds_lease(self) -> bool:
        """The lease partition and the engine-state table's active partition are both ours."""
        lease = TP(self.settings.lease_topic, 0) in self.app.consumer.assignment()
        state = TP(self.settings.state_changelog_topic, 0) in self.app.assignor.assigned_actives()
        if lease and not state:
            log.warning("engine lease assigned without the engine-state partition: waiting for a rebalance")
        return lease and state

    async def _on_rebalance_complete(self, sender, **kwargs) -> None:
        """Faust recovered the tables of a new assignment: take over if the lease is ours."""
        holds = self._holds_lease()
        self.role = "active" if holds else "standby"
        log.info("rebalance complete: this worker is %s", "the engine lease holder" if holds else "a standby")
        if holds:
            self._lease_granted.set()
        self.metrics.engine_active.set(1 if holds else 0)

    async def _on_partitions_revoked(self, sender, revoked, **kwargs) -> None:
        """A rebalance starts: stop computing before any other worker can take the lease."""
        self._revocations += 1  # a take-over still starting up sees it and gives up
        if not self.active:
            return
        self.active = False
        async with self._publishing:  # the batch in flight completes; no later one starts
            pass
        log.info("engine lease revoked: stopped computing")

    async def _run_engine(self) -> None:
        """Load the state, then compute from every input partition until the lease is revoked."""
        s, revocations = self.settings, self._revocations  # engine fresh: from __init__ or _forget_engine
        n, offsets = self.state.load_into(self.persisted)
        self.pipeline.resume_from(offsets)
        self.engine.after_load(time.time())
        _tune_garbage_collector()
        self.reader = InputReader(s.kafka_bootstrap, s.input_topics, client_id=f"{s.app_id}-inputs",
                                  security=aiokafka_security(s))
        try:
            await self.reader.start(offsets)
            if revocations != self._revocations:
                log.info("engine lease revoked while taking over: not computing")
                return
            self.loaded = self.active = True
            log.info("engine lease held: state loaded (%d keys, watermark %s)", n, self.engine.watermark)
            await self._consume()
        finally:
            self.active = self.loaded = False
            await self.reader.stop()
            self._forget_engine()

    def _forget_engine(self) -> None:
        """A worker without the lease exports no KPI values or lags: sums across workers stay right."""
        self._new_engine()
        self.kpi_collector.latest.clear()
        self.metrics.consumer_lag.clear()
        self.metrics.engine_active.set(0)

    async def _consume(self) -> None:
        # Start small: until the first batch shows how many events a message carries, a
        # full batch of batch messages could hold the event loop for seconds.
        max_records = max(1, self.settings.batch_max_events // 100)
        while self.active and not self.app.should_stop:
            records = await self.reader.fetch(self._within_s, max_records)
            if not records or not self.active:
                continue
            self.started_consuming = True
            # Which partitions still hold unread data decides how far stream time may
            # move: note it before every batch, not only on the timer.
            self.update_consumer_lag()
            t0 = time.perf_counter()
            out = self.pipeline.process(records)
            self._add_interim(out)
            t1 = time.perf_counter()
            await self.publish(out)
            log.debug("batch of %d messages: process %.1f ms, publish %.1f ms", len(records),
                      1000 * (t1 - t0), 1000 * (time.perf_counter() - t1))
            # Batch messages carry many events each: keep one batch near the event budget.
            events = sum(out.consumed.values()) + sum(out.rejected.values()) + sum(out.duplicates.values())
            per_message = max(1.0, events / len(records))
            max_records = max(1, int(self.settings.batch_max_events / per_message))

    # -------------------------------------------------------------- outputs
    def _add_interim(self, out) -> None:
        """Interim snapshots of the windows changed since the last ones, when due.

        Interim values of windows that are replayed at full speed are stale at once: none
        while the reader is catching up.
        """
        now = time.time()
        if now - self._last_interim >= self._interim_s and not self.catching_up:
            self._last_interim = now
            out.snapshots += self.engine.interim(now)

    async def publish(self, out) -> None:
        """Checkpoint the state a batch produced and send its outputs, one batch at a time."""
        async with self._publishing:
            if self.active:  # a revoked lease discards the batch: the next holder redoes it
                await self._publish(out)

    async def _publish(self, out) -> None:
        t = [time.perf_counter()]
        alerts = self.alerting.messages(out, self.engine.clock.newest(), time.time())
        written = self.state.save(self.persisted)
        t.append(time.perf_counter())
        s = self.settings
        await self._send(s.topic_deadletter, out.dead_letters)
        await self._send(s.topic_late, out.late)
        await self._send(s.topic_snapshots, out.snapshot_messages())
        await self._send(s.topic_alerts, alerts)
        if out.dead_letters or out.late or alerts or any(snap["final"] for snap in out.snapshots):
            # Outputs must be delivered before the delta that says they were emitted: a
            # crash in between then re-emits them (same values) instead of losing them.
            # Interim snapshots are superseded anyway and need no wait.
            await self.app.producer.flush()
        t.append(time.perf_counter())
        # The delta names the input offsets it includes: a restart resumes from there.
        await self.state.commit(self.pipeline.checkpoint_offsets(), self.persisted)
        t.append(time.perf_counter())
        for snap in out.snapshots:
            self.kpi_collector.observe(snap)
        self.metrics.record_batch(out)
        self.metrics.record_engine(self.engine)
        self.serving.stage(out.snapshots)
        self._flush_serving_store()
        t.append(time.perf_counter())
        log.debug("publish: %d keys, %d snapshots; save %.1f sends %.1f commit %.1f rest %.1f ms", written,
                  len(out.snapshots), *(1000 * (b - a) for a, b in zip(t, t[1:])))
        self.metrics.serving_backlog.set(self.serving.backlog)
        self.metrics.ready.set(1 if self.is_ready() else 0)

    def _flush_serving_store(self) -> None:
        """Write staged snapshots to Redis in the background: /kpis never holds up a batch.

        One flush at a time; what is staged meanwhile goes with the next batch or tick.
        """
        if self._serving_flush is None or self._serving_flush.done():
            self._serving_flush = asyncio.ensure_future(self.serving.flush())

    async def _send(self, topic: str, messages) -> None:
        """Hand (key, value) messages to the producer without Faust's per-message channel work.

        Delivery is confirmed by the producer flush before the state delta is written.
        """
        producer = self.app.producer
        for key, value in messages:
            await producer.send(topic, key, value, None, None, None)

    def update_consumer_lag(self) -> None:
        """Export lag per input partition and tell the clock which partitions still have data."""
        if self.reader is None:
            return
        now = time.time()
        backlog = 0
        for tp, high in self.reader.highwaters().items():
            processed = self.pipeline.processed_offsets.get((tp.topic, tp.partition), -1)
            lag = max(0, high - processed - 1)
            self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)
            backlog += lag
            self.engine.clock.note_backlog(f"{tp.topic}:{tp.partition}", lag > 0, now)
        # Live traffic always leaves some unread input between fetches; a backlog of many
        # batches means a replay or a restart, when interim values would be stale at once.
        self.catching_up = backlog > CATCHING_UP_BATCHES * self.settings.batch_max_events
        self.engine.clock.hold = False  # every partition's backlog is known from here on

    def is_ready(self) -> bool:
        """A standby is ready once in the group; the lease holder once its state is loaded."""
        return self.role == "standby" or (self.active and self.loaded)


def _tune_garbage_collector() -> None:
    """Fewer young collections, and none over what is loaded once.

    The engine allocates many small, short-lived objects per event; with Python's default
    threshold (700) collections take 15-20% of a worker (bench/engine_bench.py
    --gc-threshold). Freezing moves the loaded state out of the collector's way.
    """
    import gc

    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)
    gc.freeze()


def _seconds(text: str) -> float:
    from processors.windows import parse_duration_s

    return parse_duration_s(text)
