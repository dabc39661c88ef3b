"""Going to a structure: where the cursor moves (Qt-free)."""
from __future__ import annotations

import numpy as np

from allen_viewer.atlas.reference_space import ccf25_to_um


def focus_point_um(space, structure) -> np.ndarray | None:
    """Where *go to structure* puts the cursor (CCF µm, (AP, DV, ML)): the 25 µm voxel of
    the structure's left-hemisphere part (ML index below the midline) nearest that part's
    centre, so every slice pane cuts through it (the whole structure when it has no left
    part).  None when the structure has no voxel in the 25 µm annotation."""
    ijk = np.argwhere(space.mask25(structure))
    if len(ijk) == 0:
        return None
    left = ijk[ijk[:, 2] < space.labels25.shape[2] // 2]
    part = left if len(left) else ijk
    centre = part.mean(axis=0)
    voxel = part[np.argmin(((part - centre) ** 2).sum(axis=1))]
    return ccf25_to_um(voxel)
