"""The Faust application: topics, the engine-state table, the agent, timers and web views."""
from __future__ import annotations

import asyncio
import logging
import time

import faust
from prometheus_client import CollectorRegistry

from processors.engine import KpiEngine
from schemas.decoder import Limits

from .alerting import Alerting, PersistedState, configured_rules
from .metrics import KpiCollector, OperationalMetrics
from .pipeline import Pipeline, RawMessage
from .serving import ServingStore
from .settings import Settings
from .state_table import EngineStateTable
from .web import register_views

log = logging.getLogger("shoppulse")


def broker_credentials(settings: Settings):
    """SASL/SSL credentials for Faust's Kafka client, or None for plaintext."""
    protocol = settings.kafka_security_protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    import ssl

    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username, password=settings.kafka_sasl_password,
        mechanism=settings.kafka_sasl_mechanism or "PLAIN",
        ssl_context=context if protocol == "SASL_SSL" else None)


class ShopPulse:
    """Owns the Faust app and everything the worker shares between agent, timers and views."""

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
            stream_buffer_maxsize=16384,
            broker_max_poll_records=4000,
            producer_linger_ms=5,
            web_enabled=True,
            table_standby_replicas=0,
            # A killed worker's partitions move on after 10 s instead of Faust's 60 s default.
            broker_session_timeout=10.0,
            broker_heartbeat_interval=2.0,
        )
        self.engine = KpiEngine(settings.engine_config())
        self.engine.clock.hold = True  # until the backlog of every input partition is known
        self._started_at = time.time()
        self.pipeline = Pipeline(self.engine, Limits(settings.max_event_bytes, settings.max_batch_bytes),
                                 settings.topic_types())
        self.registry = CollectorRegistry()
        self.kpi_collector = KpiCollector()
        self.registry.register(self.kpi_collector)
        self.metrics = OperationalMetrics(self.registry)
        self.serving = ServingStore(settings.redis_url, settings.redis_key_prefix, settings.redis_password)
        self.state = EngineStateTable(self.app, "engine_state", settings.partitions)
        self.alerting = Alerting(configured_rules(settings) if alert_rules is None else alert_rules)
        self.persisted = PersistedState(self.engine, self.alerting.evaluator)  # one table, saved together
        self.loaded = False
        self.started_consuming = False
        self._last_interim = 0.0
        self.catching_up = False  # more unread input than one batch
        self._warned_partial = False
        self._publishing = asyncio.Lock()  # checkpoints must not interleave
        self._interim_s = _seconds(settings.interim_interval)
        self._define_topics()
        self._define_agent()
        register_views(self)

    def _define_topics(self) -> None:
        s, app = self.settings, self.app
        raw = {"key_serializer": "raw", "value_serializer": "raw"}
        self.inputs = app.topic(*s.input_topics, **raw)
        self.snapshots_topic = app.topic(s.topic_snapshots, **raw)
        self.deadletter_topic = app.topic(s.topic_deadletter, **raw)
        self.late_topic = app.topic(s.topic_late, **raw)
        self.alerts_topic = app.topic(s.topic_alerts, **raw)

    def _define_agent(self) -> None:
        app, settings = self.app, self.settings
        within = _seconds(settings.batch_within)

        @app.agent(self.inputs, name="compute_kpis")
        async def compute_kpis(stream):
            """Decode each batch, run it through the engine, persist state and emit outputs."""
            async for events in stream.take_events(settings.batch_max_events, within=within):
                self.ensure_loaded()
                self.started_consuming = True
                messages = [RawMessage(e.message.value, e.message.topic, e.message.partition, e.message.offset)
                            for e in events]
                # Which partitions still hold unread data decides how far stream time may
                # move: note it before every batch, not only on the timer.
                self.update_consumer_lag()
                t0 = time.perf_counter()
                out = self.pipeline.process(messages)
                t1 = time.perf_counter()
                await self.publish(out)
                log.debug("batch of %d messages: process %.1f ms, publish %.1f ms", len(messages),
                          1000 * (t1 - t0), 1000 * (time.perf_counter() - t1))

        @app.timer(1.0, name="advance_stream_time")
        async def advance_stream_time():
            """Finalize windows when partitions go idle; emit interim snapshots; retry Redis."""
            if not self.loaded:
                if not self.app.tables.recovery.completed.is_set():
                    return
                self.ensure_loaded()
            self.update_consumer_lag()
            out = self.pipeline.tick()
            now = time.time()
            # Interim values of windows that are replayed at full speed are stale at once:
            # skip them while the consumer is catching up.
            if now - self._last_interim >= self._interim_s and not self.catching_up:
                self._last_interim = now
                out.snapshots += self.engine.interim(now)
            await self.publish(out)

        self.compute_kpis = compute_kpis

    def ensure_loaded(self) -> None:
        """Load engine state from the (recovered) table once, before the first batch."""
        if self.loaded:
            return
        n, offsets = self.state.load_into(self.persisted)
        self.pipeline.resume_from(offsets)
        self.engine.after_load(time.time())
        self.loaded = True
        log.info("engine state loaded: %d keys, watermark %s", n, self.engine.watermark)

    async def publish(self, out) -> None:
        """Checkpoint the state a batch produced and send its outputs, one batch at a time."""
        async with self._publishing:
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
        if out.dead_letters or out.late or out.snapshots or alerts:
            # Outputs must be delivered before the delta that says they were emitted: a
            # crash in between then re-emits them (same values) instead of losing them.
            await self.app.producer.flush()
        t.append(time.perf_counter())
        # Faust flushes the producer before it commits input offsets, so no offset
        # commit passes a delta that is not delivered.
        await self.state.commit(self.pipeline.checkpoint_offsets(), self.persisted)
        t.append(time.perf_counter())
        for snap in out.snapshots:
            self.kpi_collector.observe(snap)
        self.metrics.record_batch(out)
        self.metrics.record_engine(self.engine)
        self.serving.stage(out.snapshots)
        await self.serving.flush()
        t.append(time.perf_counter())
        log.debug("publish: %d keys, %d snapshots; save %.1f sends %.1f commit %.1f rest %.1f ms", written,
                  len(out.snapshots), *(1000 * (b - a) for a, b in zip(t, t[1:])))
        self.metrics.serving_backlog.set(self.serving.backlog)
        self.metrics.ready.set(1 if self.is_ready() else 0)

    async def _send(self, topic: str, messages) -> None:
        """Hand (key, value) messages to the producer without Faust's per-message channel work.

        Delivery is confirmed by the producer flush Faust performs before it commits the
        input offsets.
        """
        producer = self.app.producer
        for key, value in messages:
            await producer.send(topic, key, value, None, None, None)

    def update_consumer_lag(self) -> None:
        """Export lag per input partition and tell the clock which partitions still have data."""
        consumer = getattr(self.app, "_consumer", None)
        if consumer is None:
            return
        now = time.time()
        try:
            unknown = assigned = backlog = 0
            for tp in consumer.assignment():
                if tp.topic not in self.settings.input_topics:
                    continue
                assigned += 1
                high = consumer.highwater(tp)
                if high is None:
                    unknown += 1
                    continue
                processed = self.pipeline.processed_offsets.get((tp.topic, tp.partition), -1)
                lag = max(0, high - processed - 1)
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)
                backlog += lag
                self.engine.clock.note_backlog(f"{tp.topic}:{tp.partition}", lag > 0, now)
            self.catching_up = backlog > self.settings.batch_max_events
            expected = len(self.settings.input_topics) * self.settings.partitions
            if assigned and assigned < expected and not self._warned_partial:
                # The engine needs every input partition (sessions, orders and chats meet in
                # one state); a second worker with the same app id splits them.
                log.warning("assigned %d of %d input partitions: run one worker per app id", assigned, expected)
                self._warned_partial = True
            if self.engine.clock.hold and (assigned and not unknown or now - self._started_at > 60):
                self.engine.clock.hold = False
        except Exception:  # lag is informative; never let it stop the worker
            log.debug("consumer lag unavailable", exc_info=True)

    def is_ready(self) -> bool:
        """State loaded after recovery and partitions of the input topics assigned."""
        if not self.loaded:
            return False
        try:
            assigned = self.app.consumer.assignment()
        except Exception:
            return False
        return any(tp.topic in self.settings.input_topics for tp in assigned)


def _seconds(text: str) -> float:
    from processors.windows import parse_duration_s

    return parse_duration_s(text)
