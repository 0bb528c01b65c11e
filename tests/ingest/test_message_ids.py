"""Message ids: one definition, stable across runs and machines, the same for the same message."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ingest import schema


def _siphash24(key: bytes, data: bytes) -> int:
    """SipHash-2-4, written from the paper (Aumasson & Bernstein, 2012): the reference for the C one."""
    mask = (1 << 64) - 1

    def rotl(x: int, b: int) -> int:
        return ((x << b) | (x >> (64 - b))) & mask

    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def rounds(n: int) -> None:
        for _ in range(n):
            v[0] = (v[0] + v[1]) & mask
            v[1] = rotl(v[1], 13) ^ v[0]
            v[0] = rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & mask
            v[3] = rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & mask
            v[3] = rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & mask
            v[1] = rotl(v[1], 17) ^ v[2]
            v[2] = rotl(v[2], 32)

    tail = len(data) % 8
    for (m,) in struct.iter_unpack("<Q", data[: len(data) - tail]):
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    m = ((len(data) & 0xFF) << 56) | int.from_bytes(data[len(data) - tail:], "little")
    v[3] ^= m
    rounds(2)
    v[0] ^= m
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def test_reference_siphash_matches_the_published_vectors():
    key = bytes(range(16))
    assert _siphash24(key, b"") == 0x726FDB47DD0E0E31
    assert _siphash24(key, bytes(range(15))) == 0xA129CA6149BE45E5


@given(st.lists(st.text(), max_size=6))
def test_column_siphash_is_standard_siphash(texts):
    key = schema._ID_KEY.encode("ascii")
    assert schema.siphash(texts).tolist() == [_siphash24(key, t.encode("utf-8", "surrogatepass")) for t in texts]


def test_ids_are_pinned():
    """Ids are stored in workspaces: a change here must come with a SCHEMA_VERSION bump."""
    assert schema.SCHEMA_VERSION == 2
    assert schema.message_id("facebook", "facebook:ana_1", "Ana Lima", 1578255103885, "haha I know of him") \
        == "1b1294a1319b63c1"
    assert schema.message_id("slack", "slack:C1", "U1", 0, "") == "810727736da4aacc"


def test_the_same_message_gets_the_same_id_in_another_process():
    code = "from ingest import schema; print(schema.message_id('telegram', 't:1', 'user1', 1234, 'olá 😂'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123"}, cwd=Path(__file__).resolve().parents[2]).stdout.strip()
    assert other == schema.message_id("telegram", "t:1", "user1", 1234, "olá 😂")


_rows = st.lists(st.tuples(st.sampled_from(["t1", "t2", "", "t\x1f"]), st.sampled_from(["ana", "bo", "", "\x1f"]),
                           st.integers(0, 10**14), st.text(max_size=6)), max_size=12)


@given(_rows)
def test_ids_agree_exactly_when_messages_agree(rows):
    threads, senders, stamps, texts = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [])
    ids = schema.message_ids("slack", threads, senders, stamps, texts)
    for row, mid in zip(rows, ids, strict=True):
        assert mid == schema.message_id("slack", *row)  # the bulk and the one-by-one ids are one definition
        assert len(mid) == 16 and int(mid, 16) >= 0
    for i in range(len(rows)):
        for j in range(len(rows)):
            assert (ids[i] == ids[j]) == (rows[i] == rows[j])
    assert list(schema.message_id_column("slack", threads, senders, stamps, texts)) == ids


def test_platform_and_fields_change_the_id():
    base = ("facebook", "t", "s", 1, "hi")
    ids = {schema.message_id(*base), schema.message_id("instagram", *base[1:]), schema.message_id("facebook", "u", "s", 1, "hi"),
           schema.message_id("facebook", "t", "r", 1, "hi"), schema.message_id("facebook", "t", "s", 2, "hi"),
           schema.message_id("facebook", "t", "s", 1, "hi ")}
    assert len(ids) == 6


def test_a_lone_surrogate_still_gets_an_id():
    assert schema.message_id("whatsapp", "t", "s", 1, "a\ud800b") != schema.message_id("whatsapp", "t", "s", 1, "ab")
    assert schema.message_id("whatsapp", "t\udc80", "s\ud800", 1, "") != schema.message_id("whatsapp", "t", "s", 1, "")
