"""The demo corpus: one chitchat-dataset speaker's conversations, rendered as a Facebook JSON export.

chitchat-dataset (PyPI, MIT; BYU PCC lab) holds 7,168 real chat conversations among
1,315 speakers, with timestamps. One speaker's conversations with many partners look
like one person's chat history. The rendering is faithful to the real export, pitfalls
included (``\\u00XX`` mojibake, newest-first order), so the demo exercises the real
adapter. Speakers are anonymous ids in the dataset; they get stable made-up names here.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

from ingest.errors import TalklikeError
from ingest.workspace import atomic_write, private_mkdir

_FIRST = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Drew",
          "Robin", "Kim", "Lee", "Ana", "João", "Zoë", "Chloé", "Mateo", "Noah", "Maya", "Ines", "Omar", "Lena",
          "Ravi", "Yuki", "Sofia", "Liam", "Emma", "Nora", "Felix", "Iris", "Hugo", "Clara", "Theo", "Aisha")
_LAST = ("Silva", "Smith", "Kowalski", "Nguyen", "García", "Müller", "Rossi", "Dubois", "Okafor", "Tanaka",
         "Haddad", "Novak", "Larsen", "O'Brien", "Costa", "Ivanova", "Patel", "Kim", "Lopez", "Berg",
         "Moreau", "Fischer", "Sato", "Ali", "Brown", "Santos", "Weber", "Jensen", "Ferreira", "Walsh")


def _dataset() -> dict:
    try:
        import chitchat_dataset
    except ImportError:
        raise TalklikeError("the demo corpus is not installed",
                            hint="pip install 'talklike[demo]' (or run `make demo`, which does it)") from None
    return chitchat_dataset.Dataset()


def speaker_counts(data: dict) -> Counter:
    counts: Counter = Counter()
    for convo in data.values():
        for sender in {u["sender"] for turn in convo["messages"] for u in turn}:
            counts[sender] += 1
    return counts


def name_for(speaker_id: str, taken: set[str]) -> str:
    h = int.from_bytes(hashlib.sha256(speaker_id.encode()).digest()[:8], "big")
    base = f"{_FIRST[h % len(_FIRST)]} {_LAST[(h // len(_FIRST)) % len(_LAST)]}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base} {n}", n + 1
    taken.add(name)
    return name


def _fb_escape(text: str) -> str:
    """Facebook's export mojibake: each UTF-8 byte as its own \\u00XX escape."""
    return text.encode("utf-8").decode("latin-1")


def render(out_dir: Path, speaker: str | None = None) -> tuple[Path, str, dict]:
    """Write the speaker's conversations as ``out_dir/messages/inbox/<friend>/message_N.json``.

    Returns (export folder, the speaker's display name, figures about the corpus).
    The default speaker is the one with the most conversations.
    """
    data = _dataset()
    counts = speaker_counts(data)
    speaker = speaker or counts.most_common(1)[0][0]
    if speaker not in counts:
        raise TalklikeError(f"speaker {speaker!r} is not in chitchat-dataset",
                            hint=f"e.g. {counts.most_common(1)[0][0]} (the one with most conversations)")
    taken: set[str] = set()
    me = name_for(speaker, taken)
    threads: dict[str, list[dict]] = defaultdict(list)
    names: dict[str, str] = {}
    conversations = 0
    for convo in data.values():
        utterances = [u for turn in convo["messages"] for u in turn]
        senders = {u["sender"] for u in utterances}
        if speaker not in senders:
            continue
        conversations += 1
        for other in sorted(senders - {speaker}):
            names.setdefault(other, name_for(other, taken))
        friend = "-".join(sorted(names[s] for s in senders - {speaker})) or me
        for u in utterances:
            name = me if u["sender"] == speaker else names[u["sender"]]
            ms = int(_parse_ts(u["timestamp"]) * 1000)
            threads[friend].append({"sender_name": _fb_escape(name), "timestamp_ms": ms,
                                    "content": _fb_escape(u["text"]), "type": "Generic"})
    root = private_mkdir(out_dir / "messages" / "inbox")
    messages = 0
    for friend, msgs in threads.items():
        folder = root / (_slug(friend) + "_" + hashlib.sha1(friend.encode()).hexdigest()[:10])
        msgs.sort(key=lambda m: m["timestamp_ms"], reverse=True)  # newest first, as Facebook writes it
        participants = [{"name": _fb_escape(n)} for n in sorted({me, *friend.split("-")})]
        for i in range(0, len(msgs), 10_000):
            doc = {"participants": participants, "messages": msgs[i:i + 10_000], "title": _fb_escape(friend),
                   "is_still_participant": True, "thread_type": "Regular",
                   "thread_path": f"inbox/{folder.name}"}
            with atomic_write(folder / f"message_{i // 10_000 + 1}.json", "w") as fh:
                json.dump(doc, fh, ensure_ascii=True, indent=1)
        messages += len(msgs)
    return out_dir, me, {"speaker": speaker, "conversations": conversations, "friends": len(threads),
                         "messages": messages}


def _slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())[:30] or "friend"


def _parse_ts(ts: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
