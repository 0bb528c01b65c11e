"""The table of adapters, keyed by platform name.

Each adapter is one module exposing::

    PLATFORM: str                      # its key in this table
    def detect(source) -> bool         # cheap look at file names / first bytes
    def read(source) -> DataFrame      # the normalised table, via schema.conform()

Adding a platform is adding one module and one line here, plus its golden
fixture under tests/fixtures/<platform>/ (a test walks this table and fails for
an adapter without one).
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pandas as pd

from ingest.errors import IngestError
from ingest.source import FileSource, Source

ADAPTERS: dict[str, str] = {
    "facebook": "ingest.adapters.facebook",  # Facebook / Messenger "Download Your Information" JSON
    "facebook_html": "ingest.adapters.facebook_html",  # Facebook legacy HTML (html/messages.htm, 2010-2018) and DYI HTML
    "messenger_e2ee": "ingest.adapters.messenger_e2ee",  # Messenger end-to-end-encrypted export, <Name>_N.json
    "instagram": "ingest.adapters.instagram",  # Instagram DMs JSON, your_instagram_activity/messages/... (and older)
    "whatsapp": "ingest.adapters.whatsapp",  # WhatsApp "Export chat" .txt (Android and iOS, any locale), or its zip
    "telegram": "ingest.adapters.telegram",  # Telegram Desktop JSON export, result.json (one chat or full export)
    "linkedin": "ingest.adapters.linkedin",  # LinkedIn data export, messages.csv (2018, 2021, 2023, 2026 headers)
    "slack": "ingest.adapters.slack",  # Slack workspace export: channels, private channels, DMs, group DMs
    "hangouts": "ingest.adapters.hangouts",  # Google Hangouts Takeout, Hangouts/Hangouts.json (both layouts)
    "google_chat": "ingest.adapters.google_chat",  # Google Chat Takeout, Google Chat/Groups/*/messages.json
}


def get(platform: str) -> ModuleType:
    if platform not in ADAPTERS:
        raise IngestError("--platform", None, f"unknown platform {platform!r}",
                          hint=f"choose one of: auto, {', '.join(sorted(ADAPTERS))}")
    return importlib.import_module(ADAPTERS[platform])


def detect(source: Source) -> list[str]:
    """Every platform whose adapter recognises the export (one export may hold several)."""
    found, unreadable = [], []
    for name in ADAPTERS:
        try:
            if get(name).detect(source):
                found.append(name)
        except IngestError as exc:  # a file it looked at cannot be read: the adapter that reads it reports it
            unreadable.append(exc)
    if not found and unreadable:
        raise unreadable[0]
    if not found:
        files = source.files()
        where = source.label(files[0]) if isinstance(source, FileSource) else source.name
        if files and all(source.size(f) == 0 for f in files):
            raise IngestError(where, None, "is empty (0 bytes)",
                              hint="the download did not finish; download the export again")
        raise IngestError(
            where, None, "not recognised as a chat export",
            hint=f"supported: {', '.join(sorted(ADAPTERS))}; pass the folder or .zip you downloaded, "
            "or name the platform with --platform",
        )
    return found


def read(source: Source, platform: str) -> tuple[pd.DataFrame, list[IngestError]]:
    """Read ``source`` with one adapter, setting damaged files aside: one bad thread does not sink the export.

    Adapters read each member on its own and report a damaged one with ``source.set_aside`` (see
    :meth:`Source.attempt`), so the export is read once however many members are damaged: this is the
    one place that decides what becomes of them. An error an adapter raises instead that names one
    member sets that member aside and the export is read again (a fallback, for errors outside a
    member's own reading). Returns the table and the errors of the files set aside (one line each, no
    message text). The first error is raised when the export has a single file, when an error names
    no single member, or when nothing readable is left.
    """
    adapter = get(platform)
    bad: list[IngestError] = []
    saved = source.damaged
    try:
        while True:
            source.damaged = []
            try:
                frame = adapter.read(source)
            except IngestError as exc:
                errors, frame = [*source.damaged, exc], None
            else:
                errors = list(source.damaged)
            single, now = len(source.files()) <= 1, set()
            for exc in errors:
                rel = source.member_of(exc.file)
                if rel in now:  # a second report of a member already set aside in this pass
                    continue
                if rel is None or rel in source.skipped or single:
                    raise (bad[0] if bad else exc) from None
                source.skip(rel)
                now.add(rel)
                bad.append(exc)
            if frame is not None:
                break
    finally:
        source.damaged = saved
    if bad and frame.empty:
        raise bad[0]
    return frame, bad
