"""Creates the input and output topics on start, with the configured partition counts."""
from __future__ import annotations

from .settings import Settings
from .tools.kafka_io import ensure_topics as create_missing_topics


def kafka_python_security(settings: Settings) -> dict:
    """kafka-python client options for the configured SASL/SSL settings."""
    protocol = settings.kafka_security_protocol.upper()
    options = {"security_protocol": protocol}
    if protocol.startswith("SASL"):
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism or "PLAIN",
                       sasl_plain_username=settings.kafka_sasl_username,
                       sasl_plain_password=settings.kafka_sasl_password)
    if "SSL" in protocol and settings.kafka_ssl_cafile:
        options["ssl_cafile"] = settings.kafka_ssl_cafile
    return options


def ensure_topics(settings: Settings) -> list[str]:
    """Create missing input and output topics; returns the names created."""
    wanted = {name: settings.partitions for name in [*settings.input_topics, *settings.output_topics]}
    # The lease and the engine-state changelog exist before the group's first assignment,
    # so Faust assigns them together from the start (streams/app.py).
    wanted[settings.lease_topic] = 1
    wanted[settings.state_changelog_topic] = 1
    configs = {settings.state_changelog_topic: {"cleanup.policy": "compact"}}
    return create_missing_topics(settings.kafka_bootstrap, wanted, replication_factor=settings.replication_factor,
                                 timeout_ms=15_000, configs=configs, **kafka_python_security(settings))
