"""Word vectors for the person's own vocabulary ("lol", "lmaooo", nicknames), and their use by the model.

The Python twin of ``talklike embed`` / ``talklike similar``::

    from embeddings.vectors import EmbedOptions, load_vectors, similar, train_vectors
    result = train_vectors(Workspace("data"), EmbedOptions(algo="fasttext"))
    similar(Workspace("data"), "lol", top=10)

**Which messages.** By default every message of the workspace, yours and your friends': the bot's
model reads your friends' messages (the prompts) as well as writing your replies, and the vectors
must cover both sides of its vocabulary. ``only_mine=True`` keeps only the workspace owner's messages.

**Streaming.** :class:`MessageCorpus` is a restartable iterable over the Parquet table, read one
record batch at a time with pyarrow and tokenised with :func:`ingest.text.tokenize`, the tokeniser
of the model's vocabulary, so both vocabularies agree. By default (``tokenise_once``) one pass of it
is written to a private temporary file in gensim's ``corpus_file`` format, which gensim's C code
reads on every core without Python in the loop; re-tokenising the table in gensim's single Python
producer thread on every epoch needed about 1.5x the CPU of gensim on a pre-tokenised list (``make
bench-embeddings`` measures both). Memory stays bounded either way: nothing holds the corpus in a list.

Layout in the workspace (the folder is replaced atomically; files readable by their owner only)::

    DATA/embeddings/
      vectors.kv          gensim KeyedVectors (FastTextKeyedVectors for fasttext, n-gram buckets included)
      vectors.kv.*.npy    its large arrays, when gensim stores them apart
      settings.json       the settings used, the corpus figures, and the vectors' id
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ingest.errors import EXIT_USAGE, TalklikeError, WorkspaceError
from ingest.text import tokenize
from ingest.workspace import (
    Workspace,
    disk_error,
    private_mkdir,
    read_json,
    recover_folder,
    replace_folder,
    write_json,
)

FORMAT_VERSION = 1
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)  # a write that cannot be done
VECTORS_FILE = "vectors.kv"
SETTINGS_FILE = "settings.json"
INSTALL_HINT = "install them with: pip install 'talklike[embeddings]' (gensim)"


class NoVectorsError(WorkspaceError):
    """``similar`` or ``train --embeddings`` before ``embed``."""


class UnknownWordError(TalklikeError):
    """A word the vectors have never seen and cannot compose."""

    exit_code = EXIT_USAGE


def _gensim_models():
    try:
        import gensim.models
    except ImportError:
        raise TalklikeError("word vectors need gensim, which is not installed", hint=INSTALL_HINT) from None
    return gensim.models


# The algorithms, keyed by the name --algo takes: name -> the gensim class (imported when used).
ALGORITHMS: dict[str, Callable[[], type]] = {
    "word2vec": lambda: _gensim_models().Word2Vec,
    "fasttext": lambda: _gensim_models().FastText,  # also composes vectors for unseen spellings
}


@dataclass
class EmbedOptions:
    algo: str = "word2vec"  # a key of ALGORITHMS
    dim: int = 128  # vector size; `train --embeddings` makes it the model's embed_dim (128 by default)
    epochs: int = 10  # passes over the messages (chat corpora are small: more than gensim's 5)
    min_count: int = 2  # a word needs this many occurrences for a vector of its own (as the model's vocabulary)
    window: int = 5  # words either side that count as context
    skip_gram: bool = False  # skip-gram instead of CBOW: better for rare words, slower
    min_n: int = 3  # fasttext: shortest character n-gram
    max_n: int = 6  # fasttext: longest character n-gram
    buckets: int = 200_000  # fasttext: hash buckets for n-grams (gensim's 2M would take 1 GB at 128 dimensions)
    only_mine: bool = False  # only the workspace owner's messages; default: everyone's (the model reads both)
    workers: int | None = None  # training threads; None: every core (os.cpu_count())
    tokenise_once: bool = True  # tokenise the table once into a private temporary corpus file (fast);
    # False: gensim re-reads and re-tokenises the table on every epoch (no temporary file, slower)
    seed: int = 0  # gensim's seed (runs with several workers are not bit-for-bit reproducible)
    batch_rows: int = 8192  # Parquet rows read at a time while streaming


@dataclass
class EmbedResult:
    folder: Path
    algo: str
    dim: int
    epochs: int
    min_count: int
    messages: int  # messages with at least one token
    words: int  # tokens in those messages (one pass)
    vocab_size: int  # words with a vector of their own
    workers: int
    read_seconds: float  # streaming and tokenising the table (with tokenise_once; else inside training)
    train_seconds: float  # gensim: vocabulary and training epochs
    train_cpu_seconds: float  # CPU time of this process (all threads) while training: steadier on a busy machine
    vectors_id: str

    @property
    def seconds(self) -> float:
        """Reading and training; saving excluded."""
        return self.read_seconds + self.train_seconds

    @property
    def words_per_second(self) -> float:
        """Training throughput: corpus words times epochs, per second of training (vocabulary included)."""
        return self.words * self.epochs / self.train_seconds if self.train_seconds else 0.0


@dataclass
class Vectors:
    """Loaded word vectors and the settings they were trained with."""

    kv: Any  # gensim KeyedVectors or FastTextKeyedVectors
    settings: dict
    folder: Path

    @property
    def algo(self) -> str:
        return self.settings["options"]["algo"]

    @property
    def dim(self) -> int:
        return int(self.kv.vector_size)

    @property
    def id(self) -> str:
        return self.settings["vectors_id"]

    def __contains__(self, word: str) -> bool:
        return word in self.kv.key_to_index

    def can_compose(self, word: str) -> bool:
        """FastText: ``word`` is unseen but has character n-grams to build its vector from."""
        if word in self or not hasattr(self.kv, "vectors_ngrams") or not getattr(self.kv, "bucket", 0):
            return False
        from gensim.models.fasttext import ft_ngram_hashes

        return len(ft_ngram_hashes(word, self.kv.min_n, self.kv.max_n, self.kv.bucket)) > 0

    def vector(self, word: str) -> tuple[np.ndarray | None, str]:
        """(vector, how): how is "seen", "composed" (FastText n-grams) or "missing" (vector None)."""
        if word in self:
            return self.kv[word], "seen"
        if self.can_compose(word):
            return self.kv.get_vector(word), "composed"
        return None, "missing"


# --- streaming the table ----------------------------------------------------------------------------

@dataclass
class MessageCorpus:
    """The workspace's messages as token lists, streamed from the Parquet table; iterable many times.

    Each iteration opens the file and reads ``batch_rows`` rows at a time (only the text and
    is_me columns), so memory does not grow with the history. ``messages`` and ``words`` hold the
    figures of the last complete pass.
    """

    path: Path
    only_mine: bool = False
    batch_rows: int = 8192
    messages: int = 0
    words: int = 0
    on_rows: Callable[[int], None] | None = field(default=None, repr=False)  # called with rows read

    def __iter__(self) -> Iterator[list[str]]:
        import pyarrow.parquet as pq

        messages = words = 0
        with pq.ParquetFile(self.path) as pf:
            for batch in pf.iter_batches(batch_size=self.batch_rows, columns=["text", "is_me"]):
                texts = batch.column("text").to_pylist()
                mine = batch.column("is_me").to_pylist() if self.only_mine else None
                for i, text in enumerate(texts):
                    if not text or (mine is not None and not mine[i]):
                        continue
                    tokens = tokenize(text)
                    if tokens:
                        messages += 1
                        words += len(tokens)
                        yield tokens
                if self.on_rows:
                    self.on_rows(len(texts))
        self.messages, self.words = messages, words

    def rows(self) -> int:
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.path) as pf:
            return pf.metadata.num_rows


def corpus(workspace: Workspace, *, only_mine: bool = False, batch_rows: int = 8192) -> MessageCorpus:
    """The workspace's message corpus; a clear error when nothing has been ingested."""
    if not workspace.has_messages():
        raise WorkspaceError(f"{workspace.root}: nothing has been ingested here",
                             hint="run `talklike ingest EXPORT` first (or pass --data to point at your workspace)")
    workspace.meta()  # refuses a table written under another schema version
    return MessageCorpus(workspace.messages_path, only_mine=only_mine, batch_rows=batch_rows)


def write_corpus_file(sentences: MessageCorpus, path: Path) -> None:
    """One pass of ``sentences`` as gensim's corpus_file format: one message per line, tokens spaced.

    Tokens never contain whitespace (``tokenize`` splits on it), so the format is lossless.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        for tokens in sentences:
            fh.write(" ".join(tokens))
            fh.write("\n")


# --- training -----------------------------------------------------------------------------------------

@contextlib.contextmanager
def _quiet_gensim() -> Iterator[None]:
    """gensim logs words (e.g. "could not extract any ngrams from 'xyz'"): message text stays out of logs."""
    log = logging.getLogger("gensim")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


class _Progress:
    """Tells ``progress(stage, done, total)`` the rows streamed, then the epochs trained (gensim's epoch
    callbacks); the library never prints, the caller draws it."""

    def __init__(self, progress: Callable[[str, int, int], None] | None, rows: int, epochs: int):
        self.progress, self.total_rows, self.epochs = progress, rows, epochs
        self.done_rows = self.done_epochs = 0

    def __enter__(self) -> _Progress:
        if self.progress:
            self.progress("reading messages", 0, self.total_rows)
        return self

    def __exit__(self, *exc) -> None:
        pass

    def rows(self, n: int) -> None:
        if self.progress:
            self.done_rows += n
            self.progress("reading messages", min(self.done_rows, self.total_rows), self.total_rows)

    def callbacks(self) -> list:
        if not self.progress:
            return []
        from gensim.models.callbacks import CallbackAny2Vec

        progress = self
        progress.progress("training epochs", 0, self.epochs)

        class EpochEnd(CallbackAny2Vec):
            def on_epoch_end(self, model):
                progress.done_epochs += 1
                progress.progress("training epochs", progress.done_epochs, progress.epochs)

        return [EpochEnd()]


def train_vectors(workspace: Workspace, opts: EmbedOptions = EmbedOptions(), *,
                  progress: Callable[[str, int, int], None] | None = None) -> EmbedResult:
    """Train word vectors on the workspace's messages and save them in ``DATA/embeddings``; ``progress(stage,
    done, total)`` is told the rows read and the epochs trained."""
    if opts.algo not in ALGORITHMS:
        raise TalklikeError(f"unknown algorithm {opts.algo!r}", hint=f"choose one of: {', '.join(ALGORITHMS)}")
    sentences = corpus(workspace, only_mine=opts.only_mine, batch_rows=opts.batch_rows)
    model_class = ALGORITHMS[opts.algo]()
    workers = opts.workers or os.cpu_count() or 1
    params = {"vector_size": opts.dim, "window": opts.window, "min_count": opts.min_count, "workers": workers,
              "sg": int(opts.skip_gram), "seed": opts.seed, "epochs": opts.epochs}
    if opts.algo == "fasttext":
        params.update(min_n=opts.min_n, max_n=opts.max_n, bucket=opts.buckets)

    private_mkdir(workspace.root)
    # one writer at a time (ingest.lock); its temporary folder (the tokenised corpus) is removed on the way
    # out, or, when the run is killed, by the first command an hour later (Workspace.clean_leftovers)
    with workspace.writing("embed"):
        try:
            tmp = Path(tempfile.mkdtemp(prefix=".embeddings.", dir=workspace.root))
        except OSError as exc:
            raise disk_error(workspace.root, exc) from None
        try:
            os.chmod(tmp, 0o700)
            with _quiet_gensim(), _Progress(progress, sentences.rows(), opts.epochs) as bar:
                sentences.on_rows = bar.rows
                start = time.monotonic()
                model = model_class(**params)
                if opts.tokenise_once:
                    source = {"corpus_file": str(tmp / "corpus.txt")}
                    write_corpus_file(sentences, tmp / "corpus.txt")
                else:
                    source = {"corpus_iterable": sentences}
                _check_words(sentences, workspace, opts)
                read_seconds = time.monotonic() - start
                start, cpu = time.monotonic(), time.process_time()
                model.build_vocab(**source)
                if len(model.wv) == 0:
                    raise WorkspaceError(f"no word occurs {opts.min_count} times or more in {workspace.messages_path}",
                                         hint="lower --min-count")
                sentences.on_rows = None  # later passes are gensim's epochs, shown by the epoch bar
                model.train(**source, total_examples=model.corpus_count, total_words=model.corpus_total_words,
                            epochs=opts.epochs, callbacks=bar.callbacks())
                train_seconds, train_cpu = time.monotonic() - start, time.process_time() - cpu
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp / "corpus.txt")  # the tokenised text goes as soon as it is no longer needed
            kv = model.wv
            vectors_id = _fingerprint(kv)
            kv.save(str(tmp / VECTORS_FILE))
            settings = {
                "format_version": FORMAT_VERSION,
                "vectors_id": vectors_id,
                "options": {**asdict(opts), "workers": workers},
                "tokenizer": "ingest.text.tokenize",
                "gensim": _gensim_version(),
                "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "corpus": {"messages": sentences.messages, "words": sentences.words,
                           "whose": "the workspace owner's" if opts.only_mine else "everyone's"},
                "vocab_size": len(kv),
                "seconds": {"read": round(read_seconds, 2), "train": round(train_seconds, 2)},
            }
            write_json(tmp / SETTINGS_FILE, settings)
            for f in tmp.iterdir():
                os.chmod(f, 0o600)
            replace_folder(tmp, workspace.embeddings_dir)
        except OSError as exc:  # gensim, numpy and os report a full or read-only disk as OSError
            if exc.errno in DISK_ERRNOS:
                raise disk_error(workspace.embeddings_dir, exc) from None
            raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return EmbedResult(folder=workspace.embeddings_dir, algo=opts.algo, dim=opts.dim, epochs=opts.epochs,
                       min_count=opts.min_count, messages=sentences.messages, words=sentences.words,
                       vocab_size=len(kv), workers=workers, read_seconds=read_seconds,
                       train_seconds=train_seconds, train_cpu_seconds=train_cpu, vectors_id=vectors_id)


def _check_words(sentences: MessageCorpus, workspace: Workspace, opts: EmbedOptions) -> None:
    if opts.tokenise_once and sentences.words == 0:
        whose = "of yours " if opts.only_mine else ""
        raise WorkspaceError(f"{workspace.messages_path}: no message {whose}has any words to learn from",
                             hint="ingest exports with text messages first")


def _fingerprint(kv) -> str:
    h = hashlib.blake2b(digest_size=8)
    h.update("\n".join(kv.index_to_key).encode("utf-8"))
    h.update(np.ascontiguousarray(kv.vectors, dtype=np.float32).tobytes())
    return h.hexdigest()


def _gensim_version() -> str:
    import gensim

    return gensim.__version__


# --- using them -----------------------------------------------------------------------------------------

def load_vectors(workspace: Workspace) -> Vectors:
    """The vectors saved by ``train_vectors``; a clear error when there are none."""
    folder = recover_folder(workspace.embeddings_dir, workspace.lock_path)  # (not while `embed` is replacing it)
    if not (folder / SETTINGS_FILE).exists():
        raise NoVectorsError(f"no word vectors in {workspace.root}", hint="run `talklike embed` first")
    settings = read_json(folder / SETTINGS_FILE)
    if settings.get("format_version") != FORMAT_VERSION:
        raise NoVectorsError(f"{folder}: word vectors saved in format v{settings.get('format_version')}, "
                             f"this talklike reads v{FORMAT_VERSION}", hint="run `talklike embed` again")
    models = _gensim_models()
    try:
        kv = models.KeyedVectors.load(str(folder / VECTORS_FILE))
    except (OSError, ValueError, EOFError, AttributeError) as exc:
        raise NoVectorsError(f"{folder / VECTORS_FILE}: cannot be read ({type(exc).__name__})",
                             hint="run `talklike embed` again") from None
    return Vectors(kv=kv, settings=settings, folder=folder)


@dataclass
class SimilarResult:
    word: str  # the word as tokenised
    how: str  # "seen" or "composed" (FastText, from character n-grams)
    neighbours: list[tuple[str, float]]  # (word, cosine similarity), most similar first
    algo: str


def similar(workspace: Workspace, word: str, top: int = 10) -> SimilarResult:
    """The ``top`` words nearest to ``word``; FastText composes a vector for a word it never saw."""
    tokens = tokenize(word)
    if len(tokens) != 1:
        raise UnknownWordError(f"give one word: this is {len(tokens)} tokens to talklike's tokeniser",
                               hint="for example `talklike similar lol`")
    word = tokens[0]
    vectors = load_vectors(workspace)
    vec, how = vectors.vector(word)
    if vec is None:
        hint = ("train FastText vectors (`talklike embed --algo fasttext`) to compose vectors for unseen words"
                if vectors.algo != "fasttext" else "it has no character n-grams to compose a vector from")
        raise UnknownWordError(f"{word!r} is not in the word vectors ({vectors.algo}, "
                               f"{len(vectors.kv):,} words)", hint=hint)
    with _quiet_gensim():
        neighbours = vectors.kv.most_similar(word, topn=top) if how == "seen" else \
            vectors.kv.similar_by_vector(vec, topn=top)
    return SimilarResult(word=word, how=how, neighbours=[(w, float(s)) for w, s in neighbours],
                         algo=vectors.algo)


def initialise(layer, words: Sequence[str | None], vectors: Vectors, *, freeze: bool = False) -> dict:
    """Start an embedding layer from the vectors: row ``i`` gets the vector of ``words[i]`` (the vocabulary's
    ``word_forms()``: the lower-cased word a token spells, None for pieces of words and special tokens).

    Words the vectors have never seen keep the layer's fresh initialisation, except with FastText,
    which composes their vectors from character n-grams. Tokens the tokeniser cannot produce (the
    model's ``<pad>``, ``<s>``, ...) always stay fresh. With ``freeze`` the layer is not trained
    (set before the model is compiled). Returns what was used, for the bot's metadata.
    """
    matrix = np.array(layer.get_weights()[0], dtype=np.float32, copy=True)
    if matrix.shape != (len(words), vectors.dim):
        raise TalklikeError(f"the embedding layer is {matrix.shape[0]} x {matrix.shape[1]}, the vocabulary "
                            f"has {len(words)} words and the vectors {vectors.dim} dimensions",
                            hint="set the model's embed_dim to the vectors' dimension")
    counts = {"seen": 0, "composed": 0, "missing": 0}
    with _quiet_gensim():
        for i, word in enumerate(words):
            if not word or tokenize(word) != [word]:
                counts["missing"] += 1
                continue
            vec, how = vectors.vector(word)
            counts[how] += 1
            if vec is not None:
                matrix[i] = vec
    layer.set_weights([matrix])
    if freeze:
        layer.trainable = False
    return {"vectors_id": vectors.id, "algo": vectors.algo, "dim": vectors.dim, "folder": str(vectors.folder),
            "trained_at": vectors.settings.get("trained_at"), "frozen": freeze, "from_vectors": counts["seen"],
            "composed": counts["composed"], "fresh": counts["missing"]}
