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

from ingest.errors import IngestError
from ingest.source import Source

ADAPTERS: dict[str, str] = {
    "facebook": "ingest.facebook",  # Facebook / Messenger "Download Your Information" JSON
    "facebook_html": "ingest.facebook_html",  # Facebook legacy HTML (html/messages.htm, 2010-2018) and DYI HTML
    "messenger_e2ee": "ingest.messenger_e2ee",  # Messenger end-to-end-encrypted export, <Name>_N.json
    "instagram": "ingest.instagram",  # Instagram DMs JSON, your_instagram_activity/messages/... (and older)
    "whatsapp": "ingest.whatsapp",  # WhatsApp "Export chat" .txt (Android and iOS, any locale), or its zip
    "telegram": "ingest.telegram",  # Telegram Desktop JSON export, result.json (one chat or full export)
    "linkedin": "ingest.linkedin",  # LinkedIn data export, messages.csv (2018, 2021, 2023, 2026 headers)
    "slack": "ingest.slack",  # Slack workspace export: channels, private channels, DMs, group DMs
    "hangouts": "ingest.hangouts",  # Google Hangouts Takeout, Hangouts/Hangouts.json (both layouts)
    "google_chat": "ingest.google_chat",  # Google Chat Takeout, Google Chat/Groups/*/messages.json
}


def get(platform: str) -> ModuleType:
    if platform not in ADAPTERS:
        raise IngestError("--platform", None, f"unknown platform {platform!r}",
                          hint=f"choose one of: auto, {', '.join(sorted(ADAPTERS))}")
    return importlib.import_module(ADAPTERS[platform])


def detect(source: Source) -> list[str]:
    """Every platform whose adapter recognises the export (one export may hold several)."""
    found = [name for name in ADAPTERS if get(name).detect(source)]
    if not found:
        raise IngestError(
            source.name, None, "not recognised as a chat export",
            hint=f"supported: {', '.join(sorted(ADAPTERS))}; pass the folder or .zip you downloaded, "
            "or name the platform with --platform",
        )
    return found
