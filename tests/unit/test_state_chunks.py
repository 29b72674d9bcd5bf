"""Engine-state records split into chunks under the size limit and read back unchanged."""
import random

import orjson
import pytest

from streams.state_table import _chunks, _delta_chunks

LIMIT = 64 * 1024


def _items(n: int, max_value_bytes: int, seed: int = 1) -> list:
    rng = random.Random(seed)
    return [["sessions", f"key-{i}", {"v": "x" * rng.randint(0, max_value_bytes)}] for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, 511, 512, 513, 3000])
@pytest.mark.parametrize("max_value_bytes", [50, 4000, 100_000])
def test_a_delta_reads_back_as_the_same_items_in_order(n, max_value_bytes):
    items = _items(n, max_value_bytes)
    chunks = _delta_chunks(items, limit=LIMIT)
    assert [item for chunk in chunks for item in orjson.loads(chunk)] == items
    # A chunk exceeds the limit only when it is a single item larger than the limit.
    for chunk in chunks:
        assert len(chunk) <= LIMIT or len(orjson.loads(chunk)) == 1


def test_snapshot_chunks_are_made_lazily_from_an_iterator():
    items = _items(2000, 200)
    chunks = _chunks(iter(items), limit=LIMIT)
    assert not isinstance(chunks, list)
    decoded = [orjson.loads(chunk) for chunk in chunks]
    assert len(decoded) > 1 and [item for chunk in decoded for item in chunk] == items
