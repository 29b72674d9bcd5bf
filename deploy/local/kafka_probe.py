"""Readiness probe for the local Kafka broker: exits 0 once the broker serves metadata.

Usage: python kafka_probe.py BOOTSTRAP [TIMEOUT_SECONDS]
Needs kafka-python (installed in .venv by setup-python.sh).
"""
import logging
import sys
import time

from kafka import KafkaAdminClient
from kafka.errors import KafkaConfigurationError

logging.disable(logging.CRITICAL)


def main() -> int:
    bootstrap = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        admin = None
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap,
                client_id="shoppulse-probe",
                request_timeout_ms=5000,
            )
            cluster = admin.describe_cluster()
            admin.list_topics()
            brokers = cluster.get("brokers") or []
            if brokers and cluster.get("controller_id", -1) not in (None, -1):
                print(f"cluster {cluster.get('cluster_id')}: {len(brokers)} broker(s)")
                return 0
            last = f"metadata without live brokers/controller: {cluster}"
        except KafkaConfigurationError as exc:  # a bug here, not a slow broker
            print(f"probe misconfigured: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # broker still starting
            last = f"{type(exc).__name__}: {exc}"
        finally:
            if admin is not None:
                try:
                    admin.close()
                except Exception:
                    pass
        time.sleep(0.5)
    print(f"broker at {bootstrap} not ready: {last}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
