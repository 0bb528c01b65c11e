"""Wall-clock times to true UTC (``--tz``)."""

from __future__ import annotations

import pytest

from ingest import times
from ingest.errors import OptionError

# 2023-03-26 in Lisbon: 01:00 becomes 02:00 (01:30 never happens); 2023-10-29: 01:00-02:00 happens twice
CASES = [
    ("2023-01-15 12:00:00", "Europe/Lisbon", "2023-01-15 12:00:00"),  # winter: UTC+0
    ("2023-07-15 12:00:00", "Europe/Lisbon", "2023-07-15 11:00:00"),  # summer: UTC+1
    ("2023-03-26 01:30:00", "Europe/Lisbon", "2023-03-26 01:00:00"),  # in the gap: moved past it
    ("2023-10-29 01:30:00", "Europe/Lisbon", "2023-10-29 00:30:00"),  # repeated: the first (summer) one
    ("2023-07-15 12:00:00", "Asia/Kolkata", "2023-07-15 06:30:00"),
    ("2023-07-15 12:00:00", "UTC", "2023-07-15 12:00:00"),
]


@pytest.mark.parametrize(("wall", "zone", "utc"), CASES)
def test_wall_clock_to_utc(wall, zone, utc):
    import pandas as pd

    ms = pd.Timestamp(wall).value // 1_000_000
    got = times.wall_ms_to_utc_ms([ms], times.zone(zone))
    assert pd.Timestamp(int(got[0]), unit="ms").strftime("%Y-%m-%d %H:%M:%S") == utc


def test_an_unknown_zone_is_a_usage_error_with_suggestions():
    with pytest.raises(OptionError) as info:
        times.zone("Europe/Lisbn")
    assert info.value.exit_code == 2 and "Europe/Lisbon" in info.value.one_line()


def test_the_machine_zone_comes_from_tz(monkeypatch):
    times.machine_zone.cache_clear()
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    try:
        assert str(times.zone(None)) == "Asia/Tokyo" and str(times.zone("local")) == "Asia/Tokyo"
    finally:
        times.machine_zone.cache_clear()
