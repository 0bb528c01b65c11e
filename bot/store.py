"""One trained bot = one self-describing folder: ``DATA/bots/<key>/``.

The key is ``me`` for the owner's bot, and for a friend a readable slug of the name and a hash of
the exact name (:func:`ingest.workspace.person_key`: ``zoe-li-1f0c9a2b``), so that two people never
share a folder; the name itself is in ``meta.json``, and :func:`load_bot` checks it. Folders named
by the slug alone (talklike before keys had a hash) are renamed on first use when their
``meta.json`` names the person asked for, and refused when it names someone else.

    config.json         ModelConfig, the pair options and the training options used
    vocab.json          the tokenizer (subwords; a word list in bots of format 3)
    model.weights.h5    the weights
    checkpoints/        the training run's epoch checkpoints (5 latest + best) and state.json, for --resume
    logs/               TensorBoard logs of the training run
    meta.json           who it talks like, when and how it was trained, its validation figures,
                        and FORMAT_VERSION
    index/              the person's own past replies and their encoder vectors (``bot.index``), for the
                        hybrid strategy; absent in bots trained with ``--no-quotes`` or before it existed

``load_bot`` needs nothing else: chat, eval and serve start from the folder alone.
A bot is written into a temporary sibling folder and moved into place, so a run
killed while saving leaves the previous bot intact.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot import decoding
from bot.callbacks import weights_bytes
from bot.decoding import DEFAULT_STRATEGY
from bot.errors import IncompatibleBotError, NoBotError
from bot.hybrid import Hybrid, Ranker
from bot.index import ReplyIndex
from bot.match import VERSION as MATCH_VERSION
from bot.match import WEIGHTS as MATCH_WEIGHTS
from bot.match import MatchConfig, Matcher, build_matcher
from bot.model import ModelConfig, Seq2Seq
from bot.vocab import Vocabulary, WordVocabulary, load_vocabulary
from ingest import lock
from ingest.errors import BusyError, TalklikeError
from ingest.workspace import (
    STALE_SECONDS,
    Workspace,
    disk_error,
    person_key,
    private_mkdir,
    read_json,
    recover_folder,
    replace_folder,
    slug,
    write_json,
)

if TYPE_CHECKING:
    from bot.chat import Conversation

FORMAT_VERSION = 4  # 4: subword vocabulary, speaker vectors, a base; 3: linear output projection
READS = (3, 4)  # a format-3 bot is a format-4 bot with a word vocabulary and no speaker vector
WEIGHTS = "model.weights.h5"
CARRIED_OVER = ("checkpoints", "logs")  # subfolders a new save keeps from the old folder


@dataclass
class Bot:
    """A loaded bot: its model, vocabulary and metadata."""

    folder: Path
    model: Seq2Seq
    vocab: Vocabulary | WordVocabulary
    meta: dict
    config: dict
    matcher: Matcher | None = None  # how well a reply fits a message (bot.match); None in bots trained without
    index: ReplyIndex | None = None  # the person's past replies (bot.index); None in bots trained without
    _hybrid: Hybrid | None = field(default=None, repr=False)

    @property
    def person(self) -> str:
        return self.meta["person"]

    @property
    def context_turns(self) -> int:
        """Turns before the message the seq2seq encoder reads (0: the message alone)."""
        from ingest.pairs import pair_options_from_config

        return int(pair_options_from_config(self.config.get("pairs", {})).context_turns)

    @property
    def default_strategy(self) -> str:
        """``DEFAULT_STRATEGY`` where this bot can use it; a bot without a reply index samples."""
        return DEFAULT_STRATEGY if DEFAULT_STRATEGY != "hybrid" or self.index is not None else "sample"

    @property
    def hybrid(self) -> Hybrid:
        """The hybrid strategy over this bot; loads the sentence encoder its index was built with."""
        if self._hybrid is None:
            if self.index is None:
                raise NoBotError(f"the bot in {self.folder} has no reply index (trained with --no-quotes, or before "
                                 "talklike had one)", hint="choose another --strategy, or train it again")
            from bot.encoder import load_encoder

            spec = self.config.get("hybrid", {}).get("encoder") or None
            encoder = load_encoder(spec)
            if encoder.info.fingerprint != self.index.encoder.get("fingerprint"):
                raise IncompatibleBotError(f"{self.folder}: its reply index was built with another sentence encoder "
                                           f"({self.index.encoder.get('name')})", hint="train the bot again")
            try:
                ranker = Ranker.from_json(self.config["hybrid"]["ranker"])
            except (KeyError, TypeError, ValueError):
                raise IncompatibleBotError(f"{self.folder}: config.json has no usable hybrid ranker",
                                           hint="train the bot again") from None
            self._hybrid = Hybrid(self, self.index, encoder, ranker)
        return self._hybrid

    def encode_prompts(self, prompts: list[str], contexts: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        """Encoder inputs; with ``contexts`` (turns before each prompt, oldest first) and a model that reads
        them, the last ``context_turns`` of them as training encoded them."""
        from bot.data import encode_prompts

        return encode_prompts(self.vocab, prompts, contexts, self.context_turns, self.model.config.max_prompt_len)

    def replies(self, prompts: list[str], strategy: str | None = None, *,
                contexts: Sequence[Sequence[str]] | None = None, **options) -> list[str]:
        """One reply per prompt (a reply of several messages holds them one per line). ``contexts``: the
        turns before each prompt, oldest first. ``strategy`` None: the bot's ``default_strategy``."""
        out = decoding.get(strategy or self.default_strategy)(self.model, self.encode_prompts(prompts, contexts), bot=self, prompts=list(prompts),
                                   contexts=contexts, **options)
        return [seq if isinstance(seq, str) else self.vocab.decode(seq) for seq in out]

    def reply(self, prompt: str, strategy: str | None = None, *, context: Sequence[str] | None = None,
              **options) -> str:
        """One reply; a reply of several messages holds them one per line (see :meth:`messages`)."""
        return self.replies([prompt], strategy, contexts=None if context is None else [list(context)], **options)[0]

    def conversation(self, strategy: str | None = None, *, quotes: bool = True, **options) -> Conversation:
        """A new conversation with this bot (``bot.chat.Conversation``): ``.reply(text)`` reads the turns before."""
        from bot.chat import Conversation

        return Conversation(self, strategy=strategy, quotes=quotes, options=options)

    def messages(self, prompt: str, strategy: str | None = None, *, context: Sequence[str] | None = None,
                 **options) -> list[str]:
        """One reply as the list of messages the bot sends in a row (a burst), as chat prints them."""
        return [m for m in self.reply(prompt, strategy, context=context, **options).splitlines() if m.strip()]


def save_bot(folder: Path, model: Seq2Seq, vocab: Vocabulary, *, meta: dict, config: dict,
             matcher: Matcher | None = None, index: ReplyIndex | None = None) -> Path:
    """Write the bot folder atomically (a temporary sibling, then renamed into place)."""
    private_mkdir(folder.parent)
    _remove_stale_temporaries(folder)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as exc:
        raise disk_error(folder, exc) from None
    os.chmod(tmp, 0o700)
    carried: list[str] = []
    try:
        # h5py on a full disk can crash the process instead of raising: see the space first
        need = weights_bytes(model.training) + (weights_bytes(matcher) if matcher is not None else 0)
        if shutil.disk_usage(folder.parent).free < need:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        match = {"match": asdict(matcher.config)} if matcher is not None else {}
        write_json(tmp / "config.json", {"model": model.config.to_json(), **match, **config})
        write_json(tmp / "vocab.json", vocab.to_json())
        write_json(tmp / "meta.json", {**meta, "format_version": FORMAT_VERSION})
        model.save_weights(tmp / WEIGHTS)
        os.chmod(tmp / WEIGHTS, 0o600)
        if matcher is not None:
            matcher.save_weights(str(tmp / MATCH_WEIGHTS))
            os.chmod(tmp / MATCH_WEIGHTS, 0o600)
        if index is not None:
            index.save(tmp)
        for sub in CARRIED_OVER:  # training's checkpoints and logs outlive the bot they led to
            if (folder / sub).is_dir():
                os.replace(folder / sub, tmp / sub)
                carried.append(sub)
        replace_folder(tmp, folder)
    except OSError as exc:  # h5py and os report a full or read-only disk as OSError
        for sub in carried:  # a failed save never takes the checkpoints with it (--resume needs them)
            if (tmp / sub).is_dir() and not (folder / sub).exists():
                with contextlib.suppress(OSError):
                    folder.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp / sub, folder / sub)
        raise disk_error(folder, exc) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary bot folders that a run killed while saving left behind (not ``.<name>.old``)."""
    cutoff = time.time() - STALE_SECONDS
    for tmp in folder.parent.glob(f".{glob.escape(folder.name)}.*"):
        with contextlib.suppress(OSError):
            if tmp.is_dir() and tmp.name != f".{folder.name}.old" and tmp.stat().st_mtime < cutoff:
                shutil.rmtree(tmp)


def bot_folder(workspace: Workspace, person: str) -> Path:
    """The bot folder of ``person`` (``"me"`` or a friend's exact name), moved from its older name when a
    talklike before hashed keys made it, and put back together when a save was killed half-way. While a
    live ``train`` holds the folder nothing is moved: what is there is read (its previous bot during
    the instant of the swap)."""
    key = person_key(person)
    folder = workspace.bot_dir(key)
    _migrate(workspace, person, folder)
    return recover_folder(folder, workspace.bot_lock_path(key))


def _migrate(workspace: Workspace, person: str, folder: Path) -> None:
    """Rename ``bots/<slug>`` (the key before hashes) to ``folder`` when its meta.json names ``person``."""
    legacy = workspace.bot_dir("me" if person == "me" else (slug(person) or "person"))
    with contextlib.suppress(OSError, TalklikeError):  # (a name too long for a file had no folder then)
        if legacy == folder or folder.exists() or not (legacy / "meta.json").exists():
            return
        meta = read_json(legacy / "meta.json")
        if not isinstance(meta, dict) or meta.get("person") != person:
            return  # another person's bot (a name with the same slug): left where it is
        with lock.unheld(workspace.bot_lock_path(legacy.name)) as holder:
            if holder is None and not folder.exists():
                os.replace(legacy, folder)
                with contextlib.suppress(OSError):
                    os.replace(legacy.with_name(f".{legacy.name}.lock"), workspace.bot_lock_path(folder.name))


def _expected_person(folder: Path, meta: dict, person: str | None) -> None:
    """Refuse a folder that holds another person's bot than the one asked for (or than its key says)."""
    stored = meta.get("person")
    name = folder.name[1:-4] if folder.name.startswith(".") and folder.name.endswith(".old") else folder.name
    if person is not None:
        ok = stored == person
    elif folder.parent.name == "bots" and isinstance(stored, str):
        ok = person_key(stored) == name
    else:
        return
    if not ok:
        raise IncompatibleBotError(
            f"{folder}: holds the bot of another person than {person or name!r} (a folder named by an older "
            f"talklike, whose names could collide)",
            hint="train this person's bot again: it will be saved in a folder of its own")


def load_bot(folder: Path, person: str | None = None) -> Bot:
    """Load a bot folder; a clear error when it is missing, another person's (``person``: the one asked
    for, ``"me"`` or a friend's exact name), or from an incompatible version."""
    if not (folder / "meta.json").exists():
        holder = lock.probe(folder.parent / f".{folder.name}.lock")
        if holder is not None:
            raise BusyError(f"the bot is being trained: {holder.line()}", hint="chat once the training has saved it")
        who = person or folder.name
        raise NoBotError(f"no trained bot for {who!r} in {folder.parent.parent}",
                         hint=f"run `talklike train --as {shlex.quote(who)}` first")
    meta = read_json(folder / "meta.json")
    if isinstance(meta, dict):
        _expected_person(folder, meta, person)
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version not in READS:
        raise IncompatibleBotError(
            f"{folder}: bot saved in format v{version}, this talklike reads v{FORMAT_VERSION}",
            hint="train it again with this version (`talklike train`)")
    config = read_json(folder / "config.json")
    try:
        vocab = load_vocabulary(read_json(folder / "vocab.json"))
        model = Seq2Seq(ModelConfig.from_json(config["model"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise IncompatibleBotError(f"{folder}: config.json or vocab.json does not describe a bot this talklike "
                                   f"can build ({type(exc).__name__})", hint="train the bot again") from None
    matcher = None
    try:
        model.load_weights(folder / WEIGHTS)
        stored = config.get("match")
        if isinstance(stored, dict) and stored.get("version") == MATCH_VERSION:  # older matchers: left out
            matcher = build_matcher(MatchConfig(**{k: int(v) for k, v in stored.items()}))
            matcher.load_weights(str(folder / MATCH_WEIGHTS))
    except (ValueError, OSError, KeyError, TypeError) as exc:
        raise IncompatibleBotError(f"{folder}: weights do not fit the saved configuration ({type(exc).__name__})",
                                   hint="train the bot again") from None
    index = ReplyIndex.load(folder) if isinstance(config.get("hybrid"), dict) else None
    return Bot(folder=folder, model=model, vocab=vocab, meta=meta, config=config, matcher=matcher, index=index)
