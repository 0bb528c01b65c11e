"""Who "me" is: every signal (the owner an export names, participants lists, name-order variants,
thread titles), ties and typos stop with one line, a later ingest keeps the earlier answer; and
``talklike people``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bot.cli import app
from ingest import schema
from ingest.errors import UnknownPersonError
from ingest.people import AmbiguousMeError, directory, name_key, resolve_me
from ingest.pipeline import ingest
from ingest.workspace import Workspace
from tests.conftest import ME, T0, conversation_export, write_fb_thread

runner = CliRunner()


def _table(rows, groups=()):
    """rows: (platform, thread_id, title, sender)."""
    return schema.conform([{"platform": p, "source": "x", "thread_id": t, "thread_title": title, "sender": s,
                            "timestamp": T0 + i * 1000, "text": f"m{i}", "is_group": t in groups}
                           for i, (p, t, title, s) in enumerate(rows)])


def test_name_order_variants_are_one_person():
    assert name_key("Carter  Sam") == name_key("sam carter") == name_key("Sám Carter")
    table = _table([("facebook_html", "t1", "Kim", "Sam Carter"), ("facebook_html", "t1", "Kim", "Kim"),
                    ("facebook_html", "t2", "Ana", "Carter Sam"), ("facebook_html", "t2", "Ana", "Ana")])
    choice = resolve_me(table, given=[], hints={"facebook_html": {"Sam Carter"}})["facebook_html"]
    assert choice.names == ["Carter Sam", "Sam Carter"] and choice.how == "export"
    assert resolve_me(table, given=["carter sam"])["facebook_html"].names == ["Carter Sam", "Sam Carter"]


def test_a_single_chat_titled_with_the_friend_is_not_a_tie():
    table = _table([("whatsapp", "w", "Kim", "Kim"), ("whatsapp", "w", "Kim", "Sam")])
    choice = resolve_me(table, given=[])["whatsapp"]
    assert choice.names == ["Sam"] and choice.how == "inferred"


def test_a_tie_stops_and_names_the_candidates():
    table = _table([("whatsapp", "w", "Chat", "Kim"), ("whatsapp", "w", "Chat", "Sam")])
    with pytest.raises(AmbiguousMeError) as info:
        resolve_me(table, given=[])
    line = info.value.one_line()
    assert "'Kim'" in line and "'Sam'" in line and "1 of 1 threads" in line and "--me NAME" in line


def test_participants_lists_break_a_tie():
    rows = [("facebook", "g", "Climbing", "Sam"), ("facebook", "g", "Climbing", "Kim"),
            ("facebook", "a", "Ana", "Ana")]  # Sam never wrote to Ana, but is listed in that thread
    table = _table(rows, groups={"g"})
    with pytest.raises(AmbiguousMeError):
        resolve_me(table, given=[])
    choice = resolve_me(table, given=[], participants={"a": ["Sam", "Ana"], "g": ["Sam", "Kim"]})["facebook"]
    assert choice.names == ["Sam"] and choice.threads == 1


def test_a_me_that_matches_nobody_is_an_error_with_did_you_mean(tmp_path):
    conversation_export(tmp_path / "export")
    with pytest.raises(UnknownPersonError) as info:
        ingest([tmp_path / "export"], workspace=Workspace(tmp_path / "d"), me=["Sam Cartr"])
    assert "--me 'Sam Cartr' matches nobody" in info.value.one_line()
    assert "did you mean 'Sam Carter'?" in info.value.one_line()
    res = runner.invoke(app, ["ingest", str(tmp_path / "export"), "--data", str(tmp_path / "d"), "--me", "Sam Cartr"])
    assert res.exit_code == 7 and res.output.count("\n") == 1 and "did you mean" in res.output
    assert not (tmp_path / "d" / "messages.parquet").exists()  # a typo is never stored


def _second_export(root):
    """Bob writes in five threads, Sam in none: alone, it points to Bob as the owner."""
    for i, friend in enumerate(["Cy", "Di", "Ed", "Flo", "Gus"]):
        write_fb_thread(root, f"{friend.lower()}_{i}", friend,
                        [(friend, T0 + i * 10_000, "hey"), ("Bob Stone", T0 + i * 10_000 + 1000, "yo")],
                        [friend, "Bob Stone"])
    return root


def test_a_later_ingest_keeps_the_earlier_me_and_says_so(tmp_path):
    ws = Workspace(tmp_path / "d")
    first = ingest([conversation_export(tmp_path / "one")], workspace=ws)
    assert first.me_by_platform["facebook"].names == [ME]
    later = ingest([_second_export(tmp_path / "two")], workspace=ws)
    assert later.me_by_platform["facebook"].names == [ME]
    assert len(later.notes) == 1 and "me on facebook stays Sam Carter" in later.notes[0]
    assert "Bob Stone" in later.notes[0] and "--me" in later.notes[0]
    assert set(ws.messages().loc[lambda t: t["is_me"], "sender"]) == {ME}

    given = ingest([tmp_path / "two"], workspace=ws, me=["Bob Stone"])  # --me decides
    assert given.me_by_platform["facebook"].names == ["Bob Stone"]
    assert "is now Bob Stone" in given.notes[0]


def test_people_lists_who_is_who(tmp_path):
    table = _table([("facebook", "t1", "Kim Lee", "Sam Carter"), ("facebook", "t1", "Kim Lee", "Kim Lee"),
                    ("telegram", "t2", "Kim", "Lee Kim"), ("telegram", "t2", "Kim", "Sammy"),
                    ("telegram", "t2", "Kim", "Lee Kim")])
    table["is_me"] = table["sender"].isin(["Sam Carter", "Sammy"])
    rows = directory(table)
    assert list(rows["name"]) == ["Sam Carter", "Lee Kim"]
    me, kim = rows.iloc[0], rows.iloc[1]
    assert me["is_me"] and me["aliases"] == ["Sammy"] and me["platforms"] == ["facebook", "telegram"]
    assert kim["aliases"] == ["Kim Lee"] and kim["messages"] == 3 and kim["threads"] == 2

    ws = Workspace(tmp_path / "d")
    ingest([conversation_export(tmp_path / "export")], workspace=ws, me=[ME])
    res = runner.invoke(app, ["people", "--data", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    assert "Sam Carter" in res.output and "Kim Lee" in res.output and "Ana Beatriz" in res.output
    assert "3 people in" in res.output and "next: talklike train --as me --data" in res.output


def test_a_me_for_a_platform_still_to_come_is_kept_with_a_note(tmp_path):
    ws = Workspace(tmp_path / "d")
    result = ingest([conversation_export(tmp_path / "export")], workspace=ws, me=[ME, "sam_c_on_slack"])
    assert result.me_by_platform["facebook"].names == [ME] and result.me_by_platform["facebook"].how == "given"
    assert result.notes == ["--me 'sam_c_on_slack' matches nobody in these exports yet; kept for the exports "
                            "still to come"]
    assert "sam_c_on_slack" in ws.meta()["me_given"]
