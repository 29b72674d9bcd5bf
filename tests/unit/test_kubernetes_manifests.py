"""The Kubernetes manifests (deploy/kubernetes): settings that exist, probes and ports that match them."""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path, PurePosixPath

import pytest
import yaml

from processors.alerts import load_rules
from streams.settings import ENV_PREFIX, SECRET_FIELDS, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
MANIFESTS = sorted(K8S.glob("*.yaml"))
SETTING_NAMES = {ENV_PREFIX + f.name.upper() for f in fields(Settings) if f.name != "extra"}


def documents() -> list[dict]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def one(kind: str, name: str | None = None) -> dict:
    found = [d for d in documents() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


@pytest.fixture(scope="module")
def statefulset() -> dict:
    return one("StatefulSet")


@pytest.fixture(scope="module")
def pod(statefulset) -> dict:
    return statefulset["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def container(pod) -> dict:
    (worker,) = pod["containers"]
    return worker


def config_env(container: dict) -> dict[str, str]:
    """The environment the worker sees from ConfigMaps and literal values (secrets left out)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(one("ConfigMap", source["configMapRef"]["name"])["data"])
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


def pod_settings(container: dict) -> Settings:
    return Settings.from_env(config_env(container))


def container_port(container: dict, port) -> int:
    """A probe's or Service's port: a number, or the name of a container port."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return number


def test_every_manifest_has_a_kind_and_a_name():
    assert {p.name for p in MANIFESTS} >= {"statefulset.yaml", "services.yaml", "configmap.yaml",
                                           "alert-rules.yaml", "secret.example.yaml"}
    for doc in documents():
        if doc["kind"] != "Kustomization":
            assert doc["apiVersion"] and doc["metadata"]["name"], doc["kind"]


def test_kustomization_applies_every_manifest_but_the_secret_example():
    listed = set(one("Kustomization")["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"kustomization.yaml", "secret.example.yaml"}


def test_every_shoppulse_name_in_the_folder_is_a_setting():
    used = set()
    for path in [*MANIFESTS, K8S / "README.md"]:
        used |= set(re.findall(r"\bSHOPPULSE_[A-Z0-9_]+\b", path.read_text()))
    assert used, "no SHOPPULSE_ names found"
    assert used <= SETTING_NAMES, sorted(used - SETTING_NAMES)


def test_every_configured_variable_is_a_setting_and_parses(container):
    env = config_env(container)
    assert set(env) <= SETTING_NAMES, sorted(set(env) - SETTING_NAMES)
    settings = pod_settings(container)  # ints and the like convert
    assert settings.web_host == "0.0.0.0"
    assert settings.store.startswith("rocksdb://")


def test_passwords_come_from_the_secret_only(container):
    secret_names = {ENV_PREFIX + name.upper() for name in SECRET_FIELDS}
    for doc in documents():
        if doc["kind"] == "ConfigMap":
            assert not secret_names & set(doc["data"]), doc["metadata"]["name"]
    example = one("Secret", "shoppulse-secrets")
    from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert set(from_secret) == secret_names
    for ref in from_secret.values():
        assert ref["name"] == "shoppulse-secrets" and ref["key"] in example["stringData"]


def test_probes_use_ready_and_health_on_the_web_port(container):
    web_port = pod_settings(container).web_port
    assert container_port(container, "http") == web_port
    assert [p["containerPort"] for p in container["ports"]] == [web_port]
    probes = {"readinessProbe": "/ready", "livenessProbe": "/health", "startupProbe": "/health"}
    for probe, path in probes.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert container_port(container, get["port"]) == web_port, probe


def test_services_reach_the_web_port_of_the_workers(statefulset, container):
    web_port = pod_settings(container).web_port
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    services = [d for d in documents() if d["kind"] == "Service"]
    assert len(services) == 2
    for service in services:
        assert service["spec"]["selector"].items() <= labels.items()
        for port in service["spec"]["ports"]:
            assert container_port(container, port["targetPort"]) == web_port
    headless = one("Service", statefulset["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"]
    assert statefulset["spec"]["selector"]["matchLabels"].items() <= labels.items()
    annotations = statefulset["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == web_port


def test_one_holder_and_a_standby_with_a_volume_at_the_data_dir(statefulset, pod, container):
    settings = pod_settings(container)
    assert statefulset["spec"]["replicas"] == 2
    assert 1 <= settings.standby_replicas < statefulset["spec"]["replicas"]
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == settings.data_dir
    assert container["command"] == ["shoppulse", "worker"]
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}


def test_alert_rules_are_mounted_where_the_setting_points(pod, container):
    rules_path = PurePosixPath(pod_settings(container).alert_rules)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    (volume,) = [v for v in pod["volumes"] if "configMap" in v]
    assert str(rules_path.parent) == mounts[volume["name"]]
    configmap = one("ConfigMap", volume["configMap"]["name"])
    text = configmap["data"][rules_path.name]
    assert text == (ROOT / "deploy" / "alerts" / "default.yaml").read_text()
    assert load_rules(text)
