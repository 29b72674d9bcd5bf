"""Keyed state stores that remember which keys changed since the last checkpoint."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator


def _same(value: Any) -> Any:
    return value


class TrackedStore:
    """A dict that records touched and deleted keys, so a shell can persist each once.

    Values are plain JSON-able data. `encode`/`decode` convert in-memory values
    (which may hold sets) to and from that form.
    """

    def __init__(self, name: str, encode: Callable[[Any], Any] = None, decode: Callable[[Any], Any] = None):
        self.name = name
        self.data: dict[str, Any] = {}
        self._dirty: set[str] = set()
        self._encode = encode or _same
        self._decode = decode or _same

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value
        self._dirty.add(key)

    def touch(self, key: str) -> None:
        """Mark a value changed in place."""
        self._dirty.add(key)

    def pop(self, key: str, default: Any = None) -> Any:
        self._dirty.add(key)
        return self.data.pop(key, default)

    def items(self):
        return self.data.items()

    def drain_changes(self) -> Iterator[tuple[str, Any | None]]:
        """Yield (key, encoded value or None when deleted) for every key changed."""
        dirty, self._dirty = self._dirty, set()
        data, encode = self.data, self._encode
        for key in dirty:
            value = data.get(key)
            if value is None or encode is _same:  # most stores hold their values as persisted
                yield key, value
            else:
                yield key, encode(value)

    def encoded_items(self) -> Iterator[tuple[str, Any]]:
        """Every (key, encoded value): the whole store, for a snapshot."""
        for key, value in self.data.items():
            yield key, self._encode(value)

    def load(self, items: Iterable[tuple[str, Any]]) -> None:
        """Fill from persisted (key, encoded value) pairs without marking them changed."""
        for key, value in items:
            self.data[key] = self._decode(value)
