"""facebook_html: the times Facebook writes in its HTML pages, raw string -> epoch ms.

DYI HTML times carry no zone: ``wall_time`` gives the wall clock read as if it were UTC (the adapter
then applies ``--tz``). Legacy times carry a zone (exact) or not (wall clock, like DYI).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.adapters._fb_html import legacy_time, name_tokens, wall_time


def ms(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


MAR_12_23_03_54 = ms(2024, 3, 12, 23, 3, 54)
MAR_12_23_03 = ms(2024, 3, 12, 23, 3)


@pytest.mark.parametrize("raw, expected", [
    # 2024 and later: no comma after the year, seconds, lower-case am/pm glued to the time
    ("Mar 12, 2024 11:03:54pm", MAR_12_23_03_54),
    ("Mar 12, 2024 11:03:54 pm", MAR_12_23_03_54),
    ("Mar 12, 2024, 11:03:54 PM", MAR_12_23_03_54),
    ("Mar 12, 2024 11:03 pm", MAR_12_23_03),
    ("Mar 12, 2024 at 11:03 p.m.", MAR_12_23_03),
    ("Mar 12, 2024 11:03 P.M.", MAR_12_23_03),
    ("March 12, 2024 11:03pm", MAR_12_23_03),
    ("Mar 12, 2024 12:03:54am", ms(2024, 3, 12, 0, 3, 54)),
    ("Mar 12, 2024 12:03:54pm", ms(2024, 3, 12, 12, 3, 54)),
    ("Jun 18, 2015 9:35:16 pm", ms(2015, 6, 18, 21, 35, 16)),
    ("jun. 07, 2024 5:44 am", ms(2024, 6, 7, 5, 44)),
    ("Sept 1, 2023 0:05", ms(2023, 9, 1, 0, 5)),
    # day first, 24-hour clock
    ("12 Mar 2024, 23:03:54", MAR_12_23_03_54),
    ("12 March 2024, 23:03", MAR_12_23_03),
    ("12 Mar 2024 at 23:03", MAR_12_23_03),
    # 2018-2023
    ("Oct 19, 2019, 2:37 PM", ms(2019, 10, 19, 14, 37)),
    ("Oct 19, 2019 at 2:37 PM", ms(2019, 10, 19, 14, 37)),
    ("19 Oct 2019, 14:37", ms(2019, 10, 19, 14, 37)),
    ("Jan 05, 2020, 8:31 PM", ms(2020, 1, 5, 20, 31)),
    # other languages
    ("12. März 2024 um 23:03", MAR_12_23_03),
    ("12. Mär. 2024, 23:03:54", MAR_12_23_03_54),
    ("12 mars 2024 à 23:03", MAR_12_23_03),
    ("12 déc. 2023 08:00", ms(2023, 12, 12, 8, 0)),
    ("14 juil. 2023, 08:00", ms(2023, 7, 14, 8, 0)),
    ("12 de marzo de 2024, 23:03", MAR_12_23_03),
    ("12 de marzo de 2024 a las 23:03", MAR_12_23_03),
    ("13 ene 2024 10:30 a. m.", ms(2024, 1, 13, 10, 30)),
    ("12 de março de 2024 às 23:03", MAR_12_23_03),
    ("12 de fev de 2024 23:03", ms(2024, 2, 12, 23, 3)),
    ("12 marzo 2024 alle ore 23:03", MAR_12_23_03),
    ("12 dic 2024, 23:03", ms(2024, 12, 12, 23, 3)),
    ("12 mrt. 2024 23:03", MAR_12_23_03),
    ("12 mei 2024 om 23:03", ms(2024, 5, 12, 23, 3)),
    ("12 okt. 2024 23:03", ms(2024, 10, 12, 23, 3)),
    ("12 марта 2024 г., 23:03", MAR_12_23_03),
    ("3月 12, 2024 11:03:54 PM", MAR_12_23_03_54),
    ("2024年3月12日 23:03", MAR_12_23_03),
    ("2024-03-12 23:03:54", MAR_12_23_03_54),
    # spaces Facebook and browsers put in: no-break, narrow no-break, direction marks
    ("Mar\u00a012,\u00a02024 11:03\u202fPM", MAR_12_23_03),
    ("\u200eMar 12, 2024 11:03:54pm\u200e", MAR_12_23_03_54),
])
def test_wall_times(raw, expected):
    assert wall_time(raw) == expected


@pytest.mark.parametrize("raw", [
    "Mar 12, 2024",  # a date without a time
    "11:03 pm",  # a time without a date
    "Mar 12, 2024 11:0",  # cut short
    "Feb 30, 2024 10:00",  # no such day
    "Mar 12, 2024 13:03 pm",  # no such 12-hour time
    "Mar 12, 2024 24:03",
    "see you at 10:30 on May 5, 2024",  # a line of chat
    "Mar 12, 2024 11:03 pm and 11:05 pm",
    "Ju 12, 2024 11:03",  # "ju": June or July?
    "12 Brumaire 2024 11:03",
    "12 3 2024 11:03",
    "Participants: Ana Lima, Bruno Costa",
    "",
])
def test_not_times(raw):
    assert wall_time(raw) is None


@pytest.mark.parametrize("raw, expected", [
    # a zone: exact, true UTC (as before)
    ("Saturday, July 11, 2015 at 4:10pm UTC+10", (ms(2015, 7, 11, 6, 10), False)),
    ("Friday, October 4, 2013 at 10:05pm PDT", (ms(2013, 10, 5, 5, 5), False)),
    ("Friday, October 4, 2013 at 10:05 PM PDT", (ms(2013, 10, 5, 5, 5), False)),  # fbcap alone reads 10:05 am
    ("Friday, October 4, 2013 at 3:26pm Asia/Kuala_Lumpur", (ms(2013, 10, 4, 7, 26), False)),
    ("Sonntag, 4. Dezember 2016 um 13:54 UTC-07", (ms(2016, 12, 4, 20, 54), False)),
    ("Friday, October 4, 2013 at 10:05pm IST", None),  # India, Israel or Ireland
    ("Friday, October 4, 2013 at 10:05pm Nowhere", None),  # a zone nobody knows
    # no zone: the wall clock, to be read in --tz
    ("Friday, October 4, 2013 at 10:05pm", (ms(2013, 10, 4, 22, 5), True)),
    ("Friday, October 4, 2013 at 10:05 PM", (ms(2013, 10, 4, 22, 5), True)),
    ("Sunday, 4 December 2016 at 13:54", (ms(2016, 12, 4, 13, 54), True)),
    ("Sonntag, 4. Dezember 2016 um 13:54", (ms(2016, 12, 4, 13, 54), True)),
    ("4 grudzień 2016 o 13:54", (ms(2016, 12, 4, 13, 54), True)),  # Polish: through fbcap's table
    ("Friday, October 4, 2013", None),
])
def test_legacy_times(raw, expected):
    if expected is None:  # unreadable: the message is skipped as bad_record
        assert legacy_time(raw)[0] is None
    else:
        assert legacy_time(raw) == expected


@pytest.mark.parametrize("a, b, same", [
    ("Sam Carter", "Carter Sam", True),
    ("Sam Carter", "SAM  CARTER", True),
    ("Sam Carter", "Sám Carter", True),
    ("Sam J. Carter", "Carter Sam J", True),
    ("Ana Maria Lima", "Lima Ana Maria", True),
    ("Sam Carter", "Sam Carterson", False),
    ("Sam Carter", "Sam J. Carter", False),  # another person may share two of three names
    ("Sam Carter", "Sam", False),
])
def test_spellings_of_one_name(a, b, same):
    assert (name_tokens(a) == name_tokens(b)) is same
