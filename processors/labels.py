"""Bounded breakdown values: past a cap per dimension, new values fold into `other`."""
from __future__ import annotations

from .state import TrackedStore

OTHER = "other"


class LabelLimiter:
    """Keeps at most `cap` distinct values per dimension, so series counts stay bounded.

    Values are admitted in arrival order; once a dimension is full, unseen values are
    reported as `other` and counted in `folded`. The admitted set is state (persisted),
    so a restart keeps the same mapping.
    """

    def __init__(self, cap: int):
        self.cap = cap
        self.values = TrackedStore("label_values")  # dim -> admitted values (list)
        self._admitted: dict[str, set[str]] = {}
        self.folded = 0

    def after_load(self) -> None:
        self._admitted = {dim: set(values) for dim, values in self.values.items()}

    @property
    def admitted(self) -> dict[str, set[str]]:
        """dim -> values admitted so far (read-only: `admit` adds to it)."""
        return self._admitted

    def admit(self, dim: str, value: str) -> str:
        admitted = self._admitted.get(dim)
        if admitted is None:
            admitted = self._admitted[dim] = set()
            self.values[dim] = []
        if value in admitted or value == OTHER:
            return value
        if len(admitted) >= self.cap:
            self.folded += 1
            return OTHER
        admitted.add(value)
        self.values[dim].append(value)
        self.values.touch(dim)
        return value
