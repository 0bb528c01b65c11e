"""The bulk helpers of the fast ingest path give exactly what their one-at-a-time versions give."""

from __future__ import annotations

import gc
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bench.ingest import write_facebook
from ingest import columns, schema
from ingest.adapters import facebook
from ingest.source import open_source
from ingest.text import fix_mojibake, fix_mojibake_all

# Facebook's mojibake of any text, real Unicode, lone Latin-1 characters, NULs and empty strings
_mojibake = st.text().map(lambda t: t.encode("utf-8", "surrogatepass").decode("latin-1"))
_texts = st.lists(st.one_of(_mojibake, st.text(), st.sampled_from(["", "é", "\x00", "caf\u00c3\u00a9"])), max_size=8)


@given(_texts)
def test_fix_mojibake_all_is_fix_mojibake_of_each(texts):
    assert fix_mojibake_all(texts) == [fix_mojibake(t) for t in texts]


@given(st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5), st.integers(0, 10**14), st.text()), max_size=6))
def test_bulk_message_ids_are_message_id(rows):
    threads, senders, stamps, texts = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [])
    one_by_one = [schema.message_id("slack", t, s, m, x) for t, s, m, x in rows]
    assert schema.message_ids("slack", threads, senders, stamps, texts) == one_by_one
    assert list(schema.message_id_column("slack", threads, senders, stamps, texts)) == one_by_one


def test_no_gc_pauses_and_restores_the_collector():
    assert gc.isenabled()
    with columns.no_gc():
        assert not gc.isenabled()
        with columns.no_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # only the outermost re-enables
    assert gc.isenabled()


def test_facebook_bulk_read_accounts_for_every_record_and_sorts(tmp_path: Path):
    """On a generated export (notices, photos, reactions, mojibake, split files), read = kept + skipped,
    each thread runs oldest first, and every id is the one message_id gives for the row."""
    files = write_facebook(tmp_path, 3000, 6)
    records = sum(len(json.loads(f.read_text())["messages"]) for f in files)
    with open_source(tmp_path) as source:
        frame = facebook.read(source)
    assert len(frame) + sum(frame.attrs["skipped"].values()) == records == 3000
    assert frame.attrs["skipped"]["system"] > 0  # "X sent an attachment." notices
    ordered = frame.sort_values(["thread_id", "timestamp", "seq"], kind="stable")
    assert (ordered.index == frame.index).all()
    assert (frame.groupby("thread_id")["seq"].diff().dropna() == 1).all()
    assert all(frame["text"].map(lambda t: t == fix_mojibake(t)))  # nothing left in mojibake
    expected = [schema.message_id("facebook", r.thread_id, r.sender_id, r.timestamp.value // 10**6, r.text)
                for r in frame.itertuples()]
    assert list(frame["message_id"]) == expected
    assert frame["message_id"].is_unique
