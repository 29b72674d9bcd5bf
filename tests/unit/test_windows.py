"""Window arithmetic: durations, epoch-aligned window starts, window names, the bucket size."""
from __future__ import annotations

import pytest

from processors.windows import bucket_size_s, floor_to, parse_duration_s, window_name


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90.0),
    (90, 90.0),
    (2.5, 2.5),
    ("30s", 30.0),
    ("5m", 300.0),  # 5 x 60
    ("1h", 3600.0),
    ("1d", 86400.0),
    ("1.5h", 5400.0),  # 1.5 x 3600
    ("250ms", 0.25),  # 250 x 0.001
    (" 2m ", 120.0),
    ("10 m", 600.0),
])
def test_parse_duration_s(text, seconds):
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "m", "5x", "-5m", "5 minutes", "1h30m"])
def test_parse_duration_s_rejects(text):
    with pytest.raises(ValueError):
        parse_duration_s(text)


@pytest.mark.parametrize(("t", "size", "start"), [
    (0.0, 60, 0),
    (59.999, 60, 0),
    (60.0, 60, 60),  # windows are [start, end): the end belongs to the next window
    (1_699_920_059.5, 60, 1_699_920_000),
    (1_699_920_299.0, 300, 1_699_920_000),  # 1_699_920_000 = 5_666_400 x 300
    (1_699_920_300.0, 300, 1_699_920_300),
    (1_699_923_599.0, 3600, 1_699_920_000),  # = 472_200 x 3600
    (1_699_999_999.0, 86400, 1_699_920_000),  # = 19_675 x 86400, 2023-11-14T00:00:00Z
    (-1.0, 60, -60),  # floor, not truncation
])
def test_floor_to(t, size, start):
    assert floor_to(t, size) == start


@pytest.mark.parametrize(("size", "name"), [
    (60, "1m"), (300, "5m"), (3600, "1h"), (86400, "1d"),
    (120, "2m"), (7200, "2h"), (172800, "2d"),
    (30, "30s"), (90, "90s"),  # 90 s is not a whole number of minutes
    (5400, "90m"),  # 1.5 h: the largest whole unit is minutes
])
def test_window_name(size, name):
    assert window_name(size) == name


@pytest.mark.parametrize(("sizes", "bucket"), [
    ([60, 300, 3600, 86400], 60),
    ([300, 3600], 300),
    ([60, 90], 30),  # gcd(60, 90)
    ([3600], 3600),
])
def test_bucket_size_s(sizes, bucket):
    assert bucket_size_s(sizes) == bucket
