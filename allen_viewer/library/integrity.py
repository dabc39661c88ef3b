"""Damage checks on the packed library store (:mod:`allen_viewer.library.store`).

A store can parse and still be junk: a ``manifest.json`` that is valid JSON of the wrong
shape, a ``rows.bin`` or ``runs.i32`` overwritten with random bytes, NaN or infinite values
in the per-structure sums.  Searches and ``matrix`` would then rank or average garbage.

* :func:`manifest_problems`: the manifest's shape (called whenever it is read);
* :func:`last_sync_problems`: the shape of ``last_sync.json``, the last sync's record (its
  damage is named by ``library status``; the next ``library sync`` rewrites the file);
* :func:`quick_problems`: the experiment table, the mask runs and the per-segment tables,
  O(rows x segments): run every time a :class:`~allen_viewer.library.store.Library` is
  opened, so searches and ``matrix`` refuse a damaged store (:class:`CorruptData`);
* :func:`full_problems`: the above plus every value of ``energy.f16`` (NaN, infinite or
  negative float16 bits), read in blocks: ``library status`` runs it.

Each problem is a short phrase naming the file; :func:`damage_message` makes the one-line
error, which says exactly what to delete (the library folder: the grids in the cache are
kept, so a new ``library sync`` rebuilds it without downloading them again).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from allen_viewer.errors import CorruptData

FORMAT_KEYS = {"rows": int, "runs": int, "n_voxels": int, "n_segments": int, "annotation_sha256": str,
               "precision": str}


def damage_message(root: Path | str, problems: list[str]) -> str:
    """One line: what is damaged and what to do about it."""
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    return (f"The library at {root} is damaged ({shown}). Delete the folder {root} and run "
            "`allen-viewer library sync` again (grids already in the cache are reused, not downloaded).")


def energy_damage(root: Path | str) -> CorruptData:
    """The error a search raises on finding NaN, infinite or negative values in ``energy.f16``
    while it reads it (``raise energy_damage(library.root)``): :func:`damage_message`'s line."""
    return CorruptData(damage_message(root, ["energy.f16 holds NaN, infinite or negative values"]))


def manifest_problems(manifest) -> list[str]:
    """Why a parsed ``manifest.json`` is not a library manifest (empty: it is)."""
    if not isinstance(manifest, dict):
        return [f"manifest.json holds a JSON {type(manifest).__name__}, not an object"]
    out = []
    for key, kind in FORMAT_KEYS.items():
        value = manifest.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            out.append(f"manifest.json has {key} = {str(value)[:40]!r}, not {'a number' if kind is int else 'text'}")
        elif kind is int and not 0 <= value < 2**40:
            out.append(f"manifest.json has {key} = {value}, out of range")
    return out


MAX_LAST_SYNC_IDS = 10_000_000
"""Most experiment ids a ``last_sync.json`` may list (the Allen atlas has about 26,000)."""


def _short(value) -> str:
    text = value if isinstance(value, str) else type(value).__name__ if isinstance(value, (list, dict)) else repr(value)
    return repr(text[:40]) if isinstance(value, str) else f"{'a JSON ' if isinstance(value, (list, dict)) else ''}{text[:40]}"


def last_sync_problems(record) -> list[str]:
    """Why a parsed ``last_sync.json`` is not a sync record (empty: it is).  The fields read:
    ``finished_utc`` (text), ``requested_ids`` (a list of experiment ids, whole numbers 1 to
    10**12), ``failed`` (an object of id -> message text), ``stopped`` (text or null)."""
    if not isinstance(record, dict):
        return [f"last_sync.json holds {_short(record)}, not an object"]
    out = []
    if not isinstance(record.get("finished_utc"), str):
        out.append(f"last_sync.json has finished_utc = {_short(record.get('finished_utc'))}, not text")
    ids = record.get("requested_ids")
    if not isinstance(ids, list):
        out.append(f"last_sync.json has requested_ids = {_short(ids)}, not a list")
    elif len(ids) > MAX_LAST_SYNC_IDS:
        out.append(f"last_sync.json lists {len(ids):,} requested ids, more than any sync asks for")
    elif not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 10**12 for i in ids):
        out.append("last_sync.json has requested_ids that are not experiment ids")
    failed = record.get("failed")
    if not isinstance(failed, dict):
        out.append(f"last_sync.json has failed = {_short(failed)}, not an object")
    elif not all(isinstance(v, str) for v in failed.values()):
        out.append("last_sync.json has failure messages that are not text")
    stopped = record.get("stopped")
    if stopped is not None and not isinstance(stopped, str):
        out.append(f"last_sync.json has stopped = {_short(stopped)}, not text or null")
    return out


def quick_problems(library) -> list[str]:
    """Damage in the experiment table, the mask runs and the segment tables of an opened
    library (``library.refresh()`` done, files mapped)."""
    out: list[str] = []
    table, layout = library.table, library.layout
    n_vox, n_runs = layout.n_voxels, int(library.manifest["runs"])
    if len(table):
        ids = table["id"]
        bad = (ids <= 0) | (ids >= 10**12)
        if bad.any():
            out.append(f"rows.bin: {int(bad.sum()):,} rows have impossible experiment ids")
        elif len(np.unique(ids)) != len(ids):
            out.append("rows.bin: the same experiment id on several rows")
        for field, hi in (("plane", 3), ("mask_order", 2), ("has_density", 2)):
            if (table[field] >= hi).any():
                out.append(f"rows.bin: {field} codes out of range")
        starts, counts = table["runs_start"].astype(np.int64), table["n_runs"].astype(np.int64)
        if (starts < 0).any() or (counts < 0).any() or (starts + counts > n_runs).any():
            out.append(f"rows.bin: mask runs point outside runs.i32 ({n_runs:,} runs)")
        for field in ("voxels_with_data", "clipped"):
            v = table[field]
            if (v < 0).any() or (v > n_vox).any():
                out.append(f"rows.bin: {field} out of range")
    runs = library._maps["runs.i32"]
    if len(runs):
        r = np.asarray(runs)
        if (r < 0).any() or (r > n_vox).any() or (r[:, 0] >= r[:, 1]).any():
            out.append("runs.i32: mask runs out of range (random bytes?)")
    if len(table):
        sizes = layout.segment_sizes
        if (np.asarray(library.seg("count")) > sizes).any():
            out.append("seg_count.u16: more voxels with data than a structure has")
        for name, file in (("energy", "seg_energy.f32"), ("q", "seg_q.f32"), ("q2", "seg_q2.f32"),
                           ("density", "seg_density.f32")):
            values = np.asarray(library.seg(name))
            bad = ~np.isfinite(values) if name != "density" else np.isinf(values)
            bad |= values < 0
            if bad.any():
                out.append(f"{file}: {int(bad.sum()):,} non-finite or negative values")
    return out


def full_problems(library, block_rows: int = 512) -> list[str]:
    """:func:`quick_problems` and a scan of every ``energy.f16`` value."""
    out = quick_problems(library)
    bits = library.energy.view(np.uint16)
    bad = 0
    for r0 in range(0, len(bits), block_rows):
        blk = np.asarray(bits[r0:r0 + block_rows])
        nonfinite = (blk & 0x7C00) == 0x7C00  # exponent all ones: inf or NaN
        negative = ((blk & 0x8000) != 0) & (blk != 0x8000)  # sign bit, other than -0
        bad += int(np.count_nonzero(nonfinite | negative))
    if bad:
        out.append(f"energy.f16: {bad:,} NaN, infinite or negative values")
    return out
