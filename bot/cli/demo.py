"""``talklike demo``: the whole journey on a real corpus, from nothing to a bot that replies."""

from __future__ import annotations

import time

from rich.text import Text

from bot.cli.ui import command, console, next_line, progress_bar, table, warn
from bot.data import split_pairs
from bot.store import bot_folder, load_bot
from bot.train import TrainOptions, train
from ingest.demo_corpus import render
from ingest.pairs import build_pairs
from ingest.people import ME
from ingest.pipeline import ingest
from ingest.workspace import Workspace

OPENERS = ["hey, how are you?", "what are you doing this weekend?", "what's your major?",
           "i'm so tired today", "do you like pizza?"]


def run_demo(workspace: Workspace, *, minutes: float = 4.0, speaker: str | None = None,
             epochs: int = 30) -> list[tuple[str, str]]:
    """Render, ingest, train and chat. Returns the (prompt, reply) lines it printed."""
    start = time.monotonic()
    console.rule("1. a real chat history, as a Facebook export")
    export, me, figures = render(workspace.root / "export", speaker)
    console.print(f"chitchat-dataset speaker {figures['speaker']} as {me!r}: {figures['conversations']:,} "
                  f"conversations with {figures['friends']:,} friends, {figures['messages']:,} messages",
                  markup=False)

    console.rule("2. ingest")
    result = ingest([export], workspace=workspace, me=[me])
    s = result.sources[0]
    table("Ingested", ["source", "threads", "read", "kept", "skipped"],
          [[str(export), s.threads, s.read, s.kept, ", ".join(f"{k} {v}" for k, v in sorted(s.skipped.items()))]])

    console.rule("3. pairs")
    pairs = build_pairs(workspace.messages(), ME)
    _, val_pairs = split_pairs(pairs, TrainOptions().validation_share)
    console.print(f"{len(pairs):,} (friend message, my reply) pairs; {len(val_pairs):,} held out by conversation")

    console.rule("4. word vectors for your own vocabulary")
    show_vectors(workspace)

    console.rule(f"5. fine-tune the pretrained base on your replies (at most {minutes:g} minutes), then index them")
    with progress_bar(transient=False) as update:
        r = train(workspace, ME, TrainOptions(minutes=minutes, epochs=epochs), progress=update, warn=warn)
    bot = load_bot(bot_folder(workspace, ME))
    index = bot.meta.get("index") or {}
    table("Trained", ["base", "epochs", "minutes", "validation perplexity (subword)", "target tokens/s",
                      "replies indexed", "indexing seconds"],
          [[r.base or "none", r.epochs, r.seconds / 60, r.val_perplexity, r.tokens_per_second, r.index_replies,
            index.get("seconds")]], caption=f"saved in {r.folder}")

    console.rule(f"6. chat ({bot.default_strategy}: {me}'s own past reply when one fits, else a generated one)")
    prompts = OPENERS + list(val_pairs["prompt"].head(5).str.replace("\n", " "))
    lines = [(prompt, bot.reply(prompt, seed=0)) for prompt in prompts]
    for prompt, reply in lines:
        console.print(Text.assemble(("friend", "cyan"), " › ", prompt))
        for line in reply.splitlines():
            console.print(Text.assemble((me, "green"), " › ", line))
        console.print()
    console.print(f"demo finished in {(time.monotonic() - start) / 60:.1f} minutes; workspace: {workspace.root}")
    next_line(command("chat", "--as", "me", data=workspace.root), command("eval", "--as", "me", data=workspace.root))
    return lines


def show_vectors(workspace: Workspace, words: tuple[str, ...] = ("lol", "haha", "class", "pizza")) -> None:
    """Train word vectors on the workspace (gensim, seconds) and show what a few words are near."""
    from embeddings.vectors import EmbedOptions, UnknownWordError, similar, train_vectors

    with progress_bar() as update:
        emb = train_vectors(workspace, EmbedOptions(algo="word2vec"), progress=update)
    console.print(f"word2vec on {emb.words:,} words of every message: {emb.vocab_size:,} words with a vector, "
                  f"{emb.words_per_second:,.0f} words/s", markup=False)
    for word in words:
        try:
            near = similar(workspace, word, top=5)
        except UnknownWordError:
            continue
        console.print(f"  {word}: {', '.join(w for w, _ in near.neighbours)}", markup=False)
    console.print("(`talklike train --embeddings` starts the model from these vectors, which lowers perplexity "
                  "on this corpus (README, Word vectors); they are opt-in, and the demo trains without them)",
                  markup=False)
