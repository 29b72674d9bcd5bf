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


def run_worker(args: argparse.Namespace) -> int:
    settings = Settings.from_env(
        kafka_bootstrap=args.bootstrap, redis_url=args.redis_url, web_port=args.web_port,
        web_host=args.web_host, store=args.store, data_dir=args.data_dir, partitions=args.partitions,
        log_level=args.loglevel)
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
    shop = ShopPulse(settings)
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

    from .tools import compute, replay, simulate

    sim = sub.add_parser("simulate", help="write a seeded storefront's events to Kafka (or a file)")
    simulate.add_arguments(sim)
    sim.set_defaults(run=simulate.run_simulate)

    rep = sub.add_parser("replay", help="write the events of a JSONL file to their topics, keeping event time")
    replay.add_arguments(rep)
    rep.set_defaults(run=replay.run_replay)

    comp = sub.add_parser("compute", help="compute final KPI snapshots of a JSONL file in batch")
    compute.add_arguments(comp)
    comp.set_defaults(run=compute.run_compute)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
