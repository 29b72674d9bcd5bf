"""`shoppulse`: the worker and the side tools (simulate, replay, compute)."""
from __future__ import annotations

import argparse
import logging
import sys

from .settings import Settings

DESCRIPTION = """ShopPulse turns e-commerce events on Kafka into live KPIs.

Every setting can also be given as an environment variable SHOPPULSE_<NAME>
(for example SHOPPULSE_KAFKA_BOOTSTRAP=127.0.0.1:19092); see README.md."""


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (SHOPPULSE_KAFKA_BOOTSTRAP)")
    parser.add_argument("--redis-url", help="Redis URL of the serving store (SHOPPULSE_REDIS_URL)")
    parser.add_argument("--web-port", type=int, help="port of /metrics, /kpis, /health, /ready (default 6066)")
    parser.add_argument("--web-host", help="bind address of the web server (default 127.0.0.1)")
    parser.add_argument("--store", help="table store: rocksdb:// (default) or memory://")
    parser.add_argument("--data-dir", help="directory for RocksDB state (default .run/worker)")
    parser.add_argument("--partitions", type=int, help="partitions of topics created on start (default 4)")
    parser.add_argument("--loglevel", default=None, help="debug, info, warning, error")
    parser.add_argument("--alert-rules", help="YAML alert rule file, \"\" for none (SHOPPULSE_ALERT_RULES)")


def run_worker(args: argparse.Namespace) -> int:
    settings = Settings.from_env(
        kafka_bootstrap=args.bootstrap, redis_url=args.redis_url, web_port=args.web_port,
        web_host=args.web_host, store=args.store, data_dir=args.data_dir, partitions=args.partitions,
        log_level=args.loglevel, alert_rules=args.alert_rules)
    from processors.alerts import RuleError

    from .alerting import configured_rules

    try:
        alert_rules = configured_rules(settings)
    except RuleError as exc:
        print("shoppulse: invalid alert rules:\n  " + "\n  ".join(exc.problems), file=sys.stderr)
        return 2
    from faust.worker import Worker

    from .app import ShopPulse
    from .topics import ensure_topics

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log = logging.getLogger("shoppulse")
    log.info("settings: %s", settings.redacted())
    try:
        ensure_topics(settings)
    except Exception as exc:
        print(f"shoppulse: cannot reach Kafka at {settings.kafka_bootstrap}: {exc}", file=sys.stderr)
        return 2
    shop = ShopPulse(settings, alert_rules)
    print(f"shoppulse worker: http://{settings.web_host}:{settings.web_port}/metrics and /kpis", file=sys.stderr)
    Worker(shop.app, loglevel=settings.log_level, quiet=True).execute_from_commandline()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shoppulse", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    worker = sub.add_parser("worker", help="run a stream worker (consumes events, serves /metrics and /kpis)")
    _worker_arguments(worker)
    worker.set_defaults(run=run_worker)

    from .tools import compute, replay, simulate, verify

    sim = sub.add_parser("simulate", help="write a seeded storefront's events to Kafka (or a file)")
    simulate.add_arguments(sim)
    sim.set_defaults(run=simulate.run_simulate)

    rep = sub.add_parser("replay", help="write the events of a JSONL file to their topics, keeping event time")
    replay.add_arguments(rep)
    rep.set_defaults(run=replay.run_replay)

    comp = sub.add_parser("compute", help="compute final KPI snapshots of a JSONL file in batch")
    compute.add_arguments(comp)
    comp.set_defaults(run=compute.run_compute)

    ver = sub.add_parser("verify", help="recompute KPIs from the input topics (or a file) and diff them with "
                                        "the final snapshots on Kafka; exits 1 on any mismatch")
    verify.add_arguments(ver)
    ver.set_defaults(run=verify.run_verify)

    alerts = sub.add_parser("alerts", help="work with alert rule files")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    check = alerts_sub.add_parser("check", help="validate an alert rule file and list its rules")
    check.add_argument("file", help="YAML rule file (format: processors/alerts.py)")
    check.set_defaults(run=run_alerts_check)
    return parser


def run_alerts_check(args: argparse.Namespace) -> int:
    """Validate a rule file against the registry and the configured windows; exit 2 on errors."""
    from pathlib import Path

    from processors.alerts import RuleError

    from .alerting import configured_windows, read_rule_file

    try:
        rules = read_rule_file(Path(args.file), configured_windows(Settings.from_env()))
    except RuleError as exc:
        print("shoppulse: invalid alert rules:\n  " + "\n  ".join(exc.problems), file=sys.stderr)
        return 2
    print(f"{args.file}: {len(rules)} rule(s)")
    width = max((len(rule.name) for rule in rules), default=0)
    for rule in rules:
        print(f"  {rule.name:<{width}}  {rule.severity:<8}  {rule.describe()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
