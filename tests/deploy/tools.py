"""The real Prometheus tools for deploy tests: promtool, amtool and a `prometheus` server."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from tests.integration.harness import ManagedProcess

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"


def tool(name: str) -> str:
    """The path of a Debian Prometheus tool; fails (never skips) with how to get it."""
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not installed; run the tests with `bash deploy/local/test.sh`, "
                             "which installs Debian's prometheus and prometheus-alertmanager")
    return path


def run(args: list[str], timeout: float = 120, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, timeout=timeout, input=stdin, text=stdin is None)


def wait_until(condition, timeout: float, what: str, interval: float = 0.5):
    """Poll `condition()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class PrometheusServer(ManagedProcess):
    """Debian's `prometheus` with its own directory and port, configured from deploy/prometheus.

    The example prometheus.yml is used with 1 s scrape and evaluation intervals, the
    worker as the only target and no Alertmanager.
    """

    def __init__(self, tmp: Path, port: int, target: str):
        self.tmp, self.port, self.target = tmp, port, target
        self.log_path = tmp / "prometheus.log"
        self.proc: subprocess.Popen | None = None

    def config(self) -> dict:
        config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
        config["global"].update(scrape_interval="1s", evaluation_interval="1s")
        config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
        config.pop("alerting", None)
        (job,) = config["scrape_configs"]
        job["static_configs"] = [{"targets": [self.target]}]
        return config

    def start(self, ready_timeout: float = 60) -> "PrometheusServer":
        config_path = self.tmp / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [tool("prometheus"), f"--config.file={config_path}", f"--storage.tsdb.path={self.tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._ready, ready_timeout, f"Prometheus ready on port {self.port}")
        return self

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.proc.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def api(self, path: str, **params) -> dict:
        """GET /api/v1/<path>; returns the JSON body (errors come back as status "error", not raised)."""
        query = urllib.parse.urlencode(params, doseq=True)
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:  # 400/422 carry the error as JSON
            return json.loads(error.read())

    def query(self, expr: str) -> dict:
        return self.api("query", query=expr)

