"""The Kubernetes ConfigMap of the alert rule file, so the pods run the rules Prometheus exports."""
from __future__ import annotations

CONFIGMAP_NAME = "shoppulse-alert-rules"
RULES_KEY = "default.yaml"  # mounted at /etc/shoppulse/alerts (deploy/kubernetes/statefulset.yaml)


def alert_rules_configmap(rules_text: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP_NAME, "labels": {"app.kubernetes.io/name": "shoppulse"}},
            "data": {RULES_KEY: rules_text}}
