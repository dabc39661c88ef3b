"""What the command groups share: the data, picking an experiment, progress bars, small
argument types.  Standard library only at import time (``--help`` stays cheap)."""
from __future__ import annotations

import argparse
import sys

from allen_viewer.config import PROG


def atlas_data():
    """The :class:`~allen_viewer.data.AtlasData` a command works on (imported here, lazily)."""
    from allen_viewer.data import AtlasData

    return AtlasData()


def library_of(data):
    """The local library in ``data``'s cache (``library/``)."""
    from allen_viewer.library.store import Library

    return Library(data.cache.root / "library")


def pick(data, query: str, *, quiet: bool = False):
    """Resolve an id or symbol; say which experiment was picked when a symbol has several."""
    text = str(query).strip()
    if text.isascii() and text.isdigit():
        return data.experiment(text)
    candidates = data.gene_index.experiments_of(text)
    chosen = data.gene_index.resolve(text)
    if len(candidates) > 1 and not quiet:
        if len(candidates) <= 4:
            others = ", ".join(f"{e.plane} {e.id}" for e in candidates)
        else:
            n_cor = sum(e.plane == "coronal" for e in candidates)
            others = f"{n_cor} coronal, {len(candidates) - n_cor} sagittal; `{PROG} search {text}` lists them"
        why = "coronal covers both hemispheres" if chosen.plane == "coronal" else "no coronal experiment"
        print(f"{chosen.symbol} has {len(candidates)} experiments ({others}); using {chosen.plane} {chosen.id} "
              f"({why}; pass an id to choose another).", file=sys.stderr)
    return chosen


class TqdmProgress:
    """Adapts the core's ``progress(done_bytes, total_bytes)`` callback to a tqdm bar."""

    def __init__(self, label: str):
        from tqdm import tqdm

        self._bar = tqdm(desc=label, unit="B", unit_scale=True, unit_divisor=1024, leave=True,
                         file=sys.stderr, disable=None)

    def __call__(self, done: int, total: int | None) -> None:
        if total and self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def percentile(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return value  # the range (0-100) is checked by arguments.check_arguments: one line, not usage


def structure_list(text: str | None) -> list[str] | None:
    return [a.strip() for a in text.split(",") if a.strip()] if text else None


