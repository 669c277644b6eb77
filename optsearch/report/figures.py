"""PNG bytes for embedding: matplotlib figures and LaTeX equations (mathtext, no TeX needed)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for an ``<img src>`` (the page stays one file)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def file_uri(path: Path) -> str:
    return data_uri(Path(path).read_bytes())


def equations_png(lines: list[str], fontsize: int = 13) -> bytes | None:
    """The LaTeX ``lines`` typeset by matplotlib's mathtext, one per row; None when
    mathtext cannot typeset one of them (the page then shows the LaTeX source only)."""
    height = 0.42 * len(lines) + 0.2
    fig = plt.figure(figsize=(9, height), dpi=110)
    try:
        for i, line in enumerate(lines):
            fig.text(0.01, 1 - (i + 0.75) / (len(lines) + 0.5), f"${line}$", fontsize=fontsize,
                     va="center")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight", pad_inches=0.08)
        return buf.getvalue()
    except (ValueError, RuntimeError):  # mathtext parse errors
        return None
    finally:
        plt.close(fig)
