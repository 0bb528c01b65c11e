"""The figures a trained bot's folder holds: ``learning_curves.png``, the loss per epoch of each phase.

Drawn with :mod:`ingest.plots` (Agg backend, the format from the suffix, integer epoch ticks).
"""

from __future__ import annotations

from pathlib import Path


def learning_curves(path: Path, history: dict, pretrain: dict | None = None) -> Path | None:
    """Training and validation loss per epoch: pre-training on everyone (dashed), then fine-tuning, one
    epoch axis. Nothing is written when ``history`` holds no loss."""
    if not history.get("loss"):
        return None
    from ingest.plots import figure_format, integer_ticks, pyplot, save

    figure_format(path)
    fig, ax = pyplot().subplots(figsize=(6, 3.5), dpi=100)
    offset = 0
    if pretrain and pretrain.get("loss"):
        offset = len(pretrain["loss"])
        ax.plot(range(1, offset + 1), pretrain["loss"], "--", label="pre-training loss (everyone)")
        if pretrain.get("val_loss"):
            ax.plot(range(1, offset + 1), pretrain["val_loss"], ":", label="pre-training validation loss")
    epochs = range(offset + 1, offset + len(history["loss"]) + 1)
    ax.plot(epochs, history["loss"], label="training loss")
    if history.get("val_loss"):
        ax.plot(epochs, history["val_loss"], label="validation loss")
    integer_ticks(ax.xaxis)  # epochs are whole
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy per word")
    ax.legend()
    fig.tight_layout()
    return save(fig, path)
