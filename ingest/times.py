"""Wall-clock times to true UTC.

WhatsApp transcripts, Facebook's HTML pages and Telegram's older ``date`` field write the time the
phone or the browser showed, with no zone. Those adapters read them as naive wall-clock times and
turn them into UTC here, in the zone given with ``--tz`` (by default this machine's own zone).

A wall-clock time that occurs twice (the hour repeated when summer time ends) is taken as the
first; one that never occurs (the hour skipped when it begins) is moved forward past the gap.
Message ids are computed from the wall-clock time as written, not from the UTC one, so that
re-ingesting an export with another ``--tz`` (or one ingested before zones were applied) adds
nothing twice.
"""

from __future__ import annotations

import contextlib
import difflib
import os
from datetime import tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np
import pandas as pd

from ingest.errors import OptionError

UTC = ZoneInfo("UTC")


def zone(name: str | None) -> ZoneInfo:
    """The zone ``name`` names (an IANA name such as ``Europe/Lisbon``, or ``UTC``); this machine's
    zone when ``name`` is None or ``"local"``."""
    if name is None or name == "local":
        return machine_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        zones = sorted(available_timezones())
        close = [z for z in zones if name.lower() in z.lower()][:5] or difflib.get_close_matches(name, zones, n=3)
        hint = f"did you mean: {', '.join(close)}?" if close else "use an IANA name such as Europe/Lisbon or America/New_York"
        raise OptionError(f"--tz {name!r} is not a time zone", hint=hint) from None


@lru_cache(maxsize=1)
def machine_zone() -> ZoneInfo:
    """This machine's zone: ``$TZ`` when it is an IANA name, else the one /etc/localtime points to,
    else /etc/timezone, else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text().strip())
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return UTC


def wall_ms_to_utc_ms(wall_ms: np.ndarray | list[int], tz: tzinfo | None) -> np.ndarray:
    """Epoch milliseconds read as if the wall-clock time were UTC -> true epoch milliseconds in ``tz``."""
    wall = np.asarray(wall_ms, dtype="int64")
    if tz is None or tz == UTC or not len(wall):
        return wall
    naive = pd.DatetimeIndex(wall.astype("datetime64[ms]"))
    local = naive.tz_localize(tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward")
    return local.tz_convert("UTC").as_unit("ms").asi8
