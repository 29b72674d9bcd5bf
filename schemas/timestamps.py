"""RFC 3339 timestamps: strict parsing to float epoch seconds and UTC formatting."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# RFC 3339 date-time with a mandatory offset. ASCII digits only ([0-9], never \d, which
# would also match other scripts' digits). The same pattern goes into the JSON Schemas.
RFC3339_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]"
    r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
_match = re.compile(RFC3339_PATTERN[1:-1]).fullmatch
_fromisoformat = datetime.fromisoformat
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_time_or_none(s: str) -> float | None:
    """Seconds since the UTC epoch, or None when `s` is not an RFC 3339 time with offset."""
    if len(s) == 24 and s[19] == "." and s[23] == "Z":  # the usual "....T..:..:...mmmZ"
        millis = s[20:23]
        if millis.isascii() and millis.isdigit():
            whole = _whole_second(s[:19])
            # As datetime.timestamp(): whole microseconds over 10**6, rounded once.
            return None if whole is None else (whole * 1_000_000 + int(millis) * 1000) / 1_000_000
    return _parse(s)


_WHOLE_SECONDS: dict[str, int | None] = {}  # "YYYY-MM-DDTHH:MM:SS" -> epoch seconds (None: not a time)


def _whole_second(prefix: str) -> int | None:
    """Epoch seconds of a "YYYY-MM-DDTHH:MM:SS" UTC prefix: events of one second share it."""
    whole = _WHOLE_SECONDS.get(prefix, False)
    if whole is False:
        if len(_WHOLE_SECONDS) >= 4096:
            _WHOLE_SECONDS.clear()
        ts = _parse(prefix + "Z")
        whole = _WHOLE_SECONDS[prefix] = None if ts is None else int(ts)
    return whole


def _parse(s: str) -> float | None:
    if _match(s) is None:  # also rules out naive times and other ISO 8601 forms
        return None
    try:
        return _fromisoformat(s).timestamp()
    except ValueError:  # a day the month does not have, or lower-case 't'/'z'
        try:
            return _fromisoformat(s.upper()).timestamp()
        except ValueError:
            return None


def parse_time(s: str) -> float:
    """Seconds since the UTC epoch of an RFC 3339 time with offset; ValueError otherwise.

    >>> parse_time("2019-06-13T18:02:03.250+08:00")
    1560420123.25
    """
    ts = parse_time_or_none(s) if isinstance(s, str) else None
    if ts is None:
        raise ValueError(f"not an RFC 3339 time with offset: {s!r}")
    return ts


def format_time(ts: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. `2019-06-13T10:02:03.250Z` (rounded to the ms)."""
    ms = round(ts * 1000)
    dt = _EPOCH + timedelta(milliseconds=ms)
    return (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
            f"{dt.second:02d}.{ms % 1000:03d}Z")
