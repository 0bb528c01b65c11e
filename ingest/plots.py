"""What every figure of talklike shares: the file format from the suffix, a palette that stays distinct
for many friends, text the font can draw, integer ticks where counts are plotted, and the owner-only write.

matplotlib is imported where a figure is drawn (it takes a second), always with the Agg backend: no
display is needed, and none is opened.

- :func:`figure_format` ``x.svg`` -> ``"svg"``; any suffix but .png, .svg, .pdf is an :class:`OptionError`
  (exit 2), to check before any work.
- :func:`palette` ``n`` colours, all different: tab10 up to 10, then tab20 (its dark shades first), tab20b
  and tab20c up to 60, then evenly spaced hues.
- :func:`drawable` a name with what the font lacks (emoji, most scripts beyond DejaVu Sans') left out, so
  no glyph is drawn as a box and matplotlib warns about none; ``$`` escaped (it would start mathtext).
- :func:`save` one figure to ``path`` in its suffix' format, written atomically, readable by the owner only.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

from ingest.errors import OptionError

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def figure_format(path: Path | str) -> str:
    """The matplotlib format of ``path``, from its suffix; an :class:`OptionError` for any other suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        got = f"'{suffix}'" if suffix else "no suffix"
        raise OptionError(f"{path}: a plot is written as .png, .svg or .pdf, not {got}",
                          hint="name the file plot.png, plot.svg or plot.pdf")
    return FORMATS[suffix]


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display, no window)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def palette(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` RGBA colours, no two alike (tab10; tab20 dark shades then light, tab20b, tab20c; then hues)."""
    from matplotlib import colormaps
    from matplotlib.colors import hsv_to_rgb

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    tab20 = [colormaps["tab20"](i) for i in [*range(0, 20, 2), *range(1, 20, 2)]]
    table = list(dict.fromkeys([*tab20, *(colormaps[m](i) for m in ("tab20b", "tab20c") for i in range(20))]))
    if n <= len(table):
        return table[:n]
    # beyond: hues spread by the golden ratio, at three lightness levels, so neighbours differ
    extra = n - len(table)
    hues = [((i * 0.618033988749895) % 1.0, 0.65 + 0.35 * (i % 2), 0.55 + 0.2 * (i % 3)) for i in range(extra)]
    return [*table, *((*hsv_to_rgb(h), 1.0) for h in hues)]


@functools.lru_cache(maxsize=1)
def _charmap() -> frozenset[int]:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(font_manager.findfont(font_manager.FontProperties())).get_charmap())


def drawable(text: str) -> str:
    """``text`` with the characters the default font cannot draw left out (a name made only of those:
    their Unicode names, ``"🌸"`` -> ``"cherry blossom"``); ``$`` escaped so it is not mathtext."""
    have = _charmap()
    # joiners and variation selectors glue emoji together: invisible alone, they go with them
    kept = "".join(c for c in str(text) if (ord(c) in have and unicodedata.category(c) != "Cf"
                                            and not 0xFE00 <= ord(c) <= 0xFE0F) or c in " \t")
    kept = " ".join(kept.split())
    if not kept and str(text).strip():
        names = (unicodedata.name(c, "").lower() for c in str(text)
                 if unicodedata.category(c) not in ("Mn", "Cf", "Zs", "Sk"))
        kept = " ".join(n for n in names if n) or "?"
    return kept.replace("$", r"\$")


def integer_ticks(axis) -> None:
    """Ticks at whole numbers only (counts, epochs), labelled with thousands separators."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def save(fig, path: Path | str) -> Path:
    """Write ``fig`` to ``path`` in the format its suffix names (atomically, owner-only), then close it."""
    from ingest.workspace import atomic_write

    path = Path(path)
    fmt = figure_format(path)
    # no creation date in SVG and PDF: the same figure gives the same bytes
    metadata = {"Date": None} if fmt in ("svg", "pdf") else None
    try:
        with atomic_write(path) as fh:
            fig.savefig(fh, format=fmt, metadata=metadata)
    finally:
        pyplot().close(fig)
    return path
