"""The worker's alerting: the configured rule file, alert messages per batch, state kept with the engine's."""
from __future__ import annotations

from pathlib import Path

import orjson

from processors.alerts import AlertEvaluator, OperationalSignals, Rule, RuleError, load_rules
from processors.windows import window_name

from .settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def rule_file_path(setting: str) -> Path | None:
    """The rule file a setting names (None when empty); a relative path missing from the
    working directory is looked up in the project checkout (where the default lives)."""
    if not setting.strip():
        return None
    path = Path(setting)
    if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
        return PROJECT_ROOT / path
    return path


def configured_windows(settings: Settings) -> list[str]:
    return [window_name(z) for z in settings.engine_config().window_sizes_s]


def read_rule_file(path: Path, windows: list[str]) -> list[Rule]:
    """Load and validate one rule file; RuleError (naming the file) when it cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError([f"{path}: cannot read ({exc.strerror})"]) from None
    try:
        return load_rules(text, windows)
    except RuleError as exc:
        raise RuleError([f"{path}: {problem}" for problem in exc.problems]) from None


def configured_rules(settings: Settings) -> list[Rule]:
    path = rule_file_path(settings.alert_rules)
    return [] if path is None else read_rule_file(path, configured_windows(settings))


class Alerting:
    """Evaluates each batch's final snapshots and the minute's operational signals."""

    def __init__(self, rules: list[Rule]):
        self.evaluator = AlertEvaluator(rules)
        self.signals = OperationalSignals()

    def messages(self, out, newest_event_s: float, now_wall: float) -> list[tuple[bytes, bytes]]:
        """(key = rule name, value) of every alert transition the batch `out` causes."""
        finals = [s for s in out.snapshots if s["final"]]
        finals += self.signals.record(now_wall, sum(out.consumed.values()), len(out.dead_letters), newest_event_s)
        return [(a["alert"].encode(), orjson.dumps(a)) for a in self.evaluator.on_final(finals)]


class PersistedState:
    """The stores of several owners (engine, alert evaluator) persisted in one state table."""

    def __init__(self, *owners):
        self.owners = owners

    @property
    def stores(self) -> list:
        return [store for owner in self.owners for store in owner.stores]

    def load(self, store_name: str, items) -> None:
        for owner in self.owners:
            if any(store.name == store_name for store in owner.stores):
                owner.load(store_name, items)
                return
