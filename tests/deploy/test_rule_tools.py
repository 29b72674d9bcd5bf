"""promtool and amtool on the deploy files: rules and configs valid, rule unit tests passing."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import yaml

from .tools import PROMETHEUS_DIR, ROOT, run, tool

RULE_FILES = [PROMETHEUS_DIR / "recording_rules.yml", PROMETHEUS_DIR / "alerting_rules.yml"]
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


def test_both_rule_files_pass_promtool_check_rules():
    result = run([tool("promtool"), "check", "rules", *map(str, RULE_FILES)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 2


def test_every_promtool_unit_test_file_passes():
    """Files run in parallel: the daily-baseline ones replay a week of evaluations."""
    files = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
    names = {f.name for f in files}
    assert {"recording_rules_test.yml", "worker_alerts_test.yml"} <= names
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda f: run([tool("promtool"), "test", "rules", str(f)], timeout=300), files))
    failed = {f.name: r.stdout + r.stderr for f, r in zip(files, results) if r.returncode != 0}
    assert not failed, "\n".join(f"{name}:\n{output}" for name, output in failed.items())


def test_each_alert_has_pending_firing_and_resolved_checks():
    alerts = [rule for group in yaml.safe_load(RULE_FILES[1].read_text())["groups"]
              for rule in group["rules"] if "alert" in rule]
    checked: dict[str, dict[str, int]] = {}
    for path in (PROMETHEUS_DIR / "tests").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                counts = checked.setdefault(case["alertname"], {"firing": 0, "quiet": 0, "pending": 0})
                counts["firing" if case["exp_alerts"] else "quiet"] += 1
            for case in group.get("promql_expr_test", []):
                if 'alertstate="pending"' in case["expr"] and case["exp_samples"]:
                    name = case["expr"].split('alertname="')[1].split('"')[0]
                    checked.setdefault(name, {"firing": 0, "quiet": 0, "pending": 0})["pending"] += 1
    for alert in alerts:
        counts = checked.get(alert["alert"], {})
        assert counts.get("firing", 0) >= 1 and counts.get("quiet", 0) >= 1, (alert["alert"], counts)
        if "for" in alert:
            assert counts.get("pending", 0) >= 1, (alert["alert"], counts)


def test_example_prometheus_config_and_its_rules_pass_promtool_check_config():
    result = run([tool("promtool"), "check", "config", str(PROMETHEUS_DIR / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 2 rule files found" in result.stdout


def test_alertmanager_example_passes_amtool_and_routes_by_severity():
    result = run([tool("amtool"), "check-config", str(ALERTMANAGER)])
    assert result.returncode == 0, result.stdout + result.stderr
    for labels, receiver in ((["severity=critical", "alertname=conversion_rate_low"], "on-call"),
                             (["severity=warning", "alertname=bounce_rate_high"], "shop-team"),
                             (["severity=info"], "shop-team")):
        routed = run([tool("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels])
        assert routed.returncode == 0, routed.stderr
        assert routed.stdout.strip() == receiver, (labels, routed.stdout)
