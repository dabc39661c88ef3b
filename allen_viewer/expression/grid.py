"""ExpressionGrid: one experiment's 200 µm expression volumes with an explicit "has data" mask.

All arrays are indexed (AP, DV, ML) with shape (67, 41, 58); grid voxel (i, j, k) lies at
(200 i, 200 j, 200 k) µm in CCFv3 (PIR: +AP posterior, +DV inferior, +ML right).

Allen marks "no data" (outside the brain or the sectioned tissue) with -1.  Here that
becomes ``has_data == False`` and the value is NaN, so "no data" can never be averaged in
as zero expression.  Energy is always present; intensity and density may be missing
(``None``), as in the real zips served without ``include=``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from allen_viewer.errors import CorruptData
from allen_viewer.formats.grid_file import GRID_SHAPE, GRID_SPACING_UM, REFERENCE_SPACE_OF_PLANE, read_grid_zip
from allen_viewer.records import Experiment
from allen_viewer.sanitize import is_id



@dataclass
class ExpressionGrid:
    """Expression volumes of one experiment.

    ``energy``, ``intensity``, ``density``: float32 (AP, DV, ML), NaN where there is no data
    (``intensity``/``density`` are ``None`` when the download did not include them).
    ``has_data``: bool (AP, DV, ML), True where the energy grid is not -1 **and the voxel is in
    the brain** (``in_brain``); every count, mean and correlation uses it.
    ``has_data_anywhere``: True where the energy grid is not -1, outside the brain too (the
    grid as served; for the "outside the brain" display and ``--all-voxels`` exports).
    ``in_brain``: bool (AP, DV, ML), the 200 µm grid annotation > 0
    (:func:`allen_viewer.expression.brain.brain_mask` when not given).
    ``energy``/``intensity``/``density`` keep their values outside the brain.
    """

    experiment: Experiment
    energy: np.ndarray
    has_data: np.ndarray
    intensity: np.ndarray | None = None
    density: np.ndarray | None = None
    reference_space_id: int | None = None
    source: str = ""
    in_brain: np.ndarray | None = None

    spacing_um = GRID_SPACING_UM
    shape = GRID_SHAPE

    def __post_init__(self) -> None:
        if self.in_brain is None:
            from allen_viewer.expression.brain import brain_mask

            self.in_brain = brain_mask()
        self.in_brain = np.asarray(self.in_brain, dtype=bool)
        self.has_data_anywhere = np.asarray(self.has_data, dtype=bool)
        self.has_data = self.has_data_anywhere & self.in_brain

    @property
    def outside_brain(self) -> np.ndarray:
        """bool (AP, DV, ML): voxels with data that lie outside the brain mask."""
        return self.has_data_anywhere & ~self.in_brain

    @property
    def energy_only(self) -> bool:
        """True when the grid file held energy alone (no intensity, no density)."""
        return self.intensity is None and self.density is None

    @property
    def id(self) -> int:
        return self.experiment.id

    @property
    def gene(self) -> str:
        return self.experiment.symbol

    @property
    def plane(self) -> str:
        return self.experiment.plane

    def volume(self, name: str) -> np.ndarray | None:
        """``energy``, ``intensity`` or ``density`` (None when missing)."""
        if name not in ("energy", "intensity", "density"):
            raise ValueError(f"unknown volume {name!r}")
        return getattr(self, name)

    @property
    def available(self) -> list[str]:
        return [n for n in ("energy", "intensity", "density") if getattr(self, n) is not None]

    def hemisphere_coverage(self) -> dict[str, int]:
        """In-brain voxels with data in the left (ML 0-28) and right (ML 29-57) halves of the grid.

        Sagittal experiments cover one hemisphere, so one of the two is (nearly) zero.
        """
        mid = GRID_SHAPE[2] // 2
        return {"left": int(self.has_data[:, :, :mid].sum()), "right": int(self.has_data[:, :, mid:].sum())}

    def covered_hemispheres(self) -> str:
        """``"both"``, ``"left"``, ``"right"`` or ``"none"``, from where the data lies."""
        cov = self.hemisphere_coverage()
        total = cov["left"] + cov["right"]
        if total == 0:
            return "none"
        if min(cov.values()) > 0.2 * total:
            return "both"
        return "left" if cov["left"] > cov["right"] else "right"

    def coverage(self) -> dict:
        """A summary for ``info``: voxel counts (in the brain, and outside it separately),
        hemispheres, in-brain energy range."""
        e = self.energy[self.has_data]
        return {
            "voxels": int(np.prod(GRID_SHAPE)),
            "voxels_in_brain": int(self.in_brain.sum()),
            "voxels_with_data": int(self.has_data.sum()),
            "voxels_with_data_outside_brain": int(self.outside_brain.sum()),
            "hemispheres": self.covered_hemispheres(),
            **{f"voxels_{k}": v for k, v in self.hemisphere_coverage().items()},
            "energy_min": float(e.min()) if e.size else float("nan"),
            "energy_max": float(e.max()) if e.size else float("nan"),
            "energy_mean": float(e.mean()) if e.size else float("nan"),
            "volumes": self.available,
        }


def _masked(volume: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(values with NaN for no data, has_data) from an Allen volume that uses -1 for no data."""
    vol = np.array(volume, dtype=np.float32)  # a writable copy
    if not np.isfinite(vol).all():
        raise CorruptData(f"{name} grid contains NaN or infinite values")
    bad = vol < 0
    if np.any(bad & (vol != -1)):
        raise CorruptData(f"{name} grid has negative values other than -1 (min {vol.min()})")
    vol[bad] = np.nan
    return vol, ~bad


def load_grid(path: Path | str | bytes, experiment: Experiment, source: str = "") -> ExpressionGrid:
    """Read a validated grid zip into an :class:`ExpressionGrid` for ``experiment``."""
    gf = read_grid_zip(path)
    energy, has_data = _masked(gf.volumes["energy"], "energy")
    extra = {}
    for name in ("intensity", "density"):
        if name in gf.volumes:
            vol, _ = _masked(gf.volumes[name], name)
            vol[~has_data] = np.nan  # one mask for all three: the energy grid's
            extra[name] = vol
    ds_id = gf.data_set.get("id")
    if ds_id and is_id(ds_id) and int(ds_id) != experiment.id:
        raise CorruptData(f"grid file {path} belongs to experiment {ds_id}, not {experiment.id}")
    # Allen sends data_set.xml only with an energy-only zip (no include=); without it the
    # reference space follows from the plane in the gene index (Allen: 9 coronal, 10 sagittal)
    ref = gf.data_set.get("reference-space-id") or str(REFERENCE_SPACE_OF_PLANE.get(experiment.plane, ""))
    return ExpressionGrid(
        experiment=experiment,
        energy=energy,
        has_data=has_data,
        reference_space_id=int(ref) if ref and is_id(ref) else None,
        source=source or str(path),
        **extra,
    )
