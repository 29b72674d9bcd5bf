"""Creates the input and output topics on start, with the configured partition counts."""
from __future__ import annotations

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from .settings import Settings


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
    """Create missing topics; returns the names created."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="shoppulse-admin",
                             request_timeout_ms=15000, **kafka_python_security(settings))
    try:
        existing = set(admin.list_topics())
        wanted = [*settings.input_topics, *settings.output_topics]
        new = [NewTopic(name, settings.partitions, settings.replication_factor)
               for name in wanted if name not in existing]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in new]
    finally:
        admin.close()
