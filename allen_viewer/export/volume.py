"""Volume exports: the grids as NRRD or MetaImage (.mhd + .raw), with spacing and origin.

The file's first axis is AP, then DV, then ML (x = AP, as in Allen's own files), spacing
200 µm, origin 0, identity direction - the same geometry as Allen's ``annotation_25.nrrd``,
so an export lies on the annotation in 3D Slicer, ITK-SNAP or napari.  "No data" is written
as -1, Allen's own marker; the header/sidecar says so.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from allen_viewer.errors import AllenViewerError
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.io.guard import refuse_special, undo_on_failure, write_error
from allen_viewer.export.provenance import provenance, write_sidecar
from allen_viewer.sanitize import clean_text
from allen_viewer.io.atomic import atomic_path, replace_file

NO_DATA = -1.0
FORMATS = {".nrrd": ".nrrd", ".mhd": ".mhd", ".nhdr": ".nrrd"}


def _image(volume: np.ndarray, has_data: np.ndarray) -> sitk.Image:
    arr = np.where(has_data, volume, NO_DATA).astype(np.float32)
    image = sitk.GetImageFromArray(np.ascontiguousarray(arr.transpose(2, 1, 0)))  # x = AP fastest
    image.SetSpacing((200.0, 200.0, 200.0))
    image.SetOrigin((0.0, 0.0, 0.0))
    return image


def volume_files(path: Path | str, volume: str, available=("energy", "intensity", "density")) -> list[Path]:
    """The volume files an export of ``volume`` to ``path`` writes (without the sidecar): ``path``
    itself, or for ``all`` one ``FILE_<name>.EXT`` per volume in ``available``; an ``.mhd``'s
    ``.raw`` beside each (the files :func:`export_volume` writes, checked before it runs)."""
    path = Path(path)
    names = list(available) if volume == "all" else [volume]
    if volume != "all" or len(names) == 1:  # as export_volume: one volume is written to path itself
        targets = [path]
    else:
        targets = [path.with_name(f"{path.stem}_{n}{path.suffix}") for n in names]
    if path.suffix.lower() == ".mhd":
        targets += [t.with_suffix(".raw") for t in list(targets)]
    return targets


def export_volume(grid: ExpressionGrid, path: Path, volume: str = "energy") -> list[Path]:
    """Write one volume (or ``all`` available, as ``FILE_energy.nrrd`` ...) and a sidecar.

    Written to temporary names and renamed, so a failure leaves no half-written file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".nrrd", ".mhd"):
        raise AllenViewerError(f"Volume export writes .nrrd or .mhd files, not {path.name!r}.")
    names = grid.available if volume == "all" else [volume]
    for name in names:
        if grid.volume(name) is None:
            raise AllenViewerError(f"Experiment {grid.id} has no {name} volume in this download "
                                   f"(available: {', '.join(grid.available)}).")
    targets = [path] if len(names) == 1 else [path.with_name(f"{path.stem}_{n}{suffix}") for n in names]
    path.parent.mkdir(parents=True, exist_ok=True)
    for target in targets:  # never replace a folder, link or special file (docs/reliability.md)
        refuse_special(target)
        if suffix == ".mhd":
            refuse_special(target.with_suffix(".raw"))
    written = []
    try:
        for name, target in zip(names, targets):
            # the grid as served: outside-brain values kept (mask with the grid annotation)
            image = _image(grid.volume(name), grid.has_data_anywhere)
            image.SetMetaData("allen_viewer_volume", name)
            image.SetMetaData("allen_viewer_experiment", str(grid.id))
            image.SetMetaData("allen_viewer_no_data", str(NO_DATA))
            with atomic_path(target, suffix) as tmp:  # SimpleITK writes by name; renamed on success
                raw_tmp = tmp.with_suffix(".raw")  # where SimpleITK puts a .mhd's data
                try:
                    sitk.WriteImage(image, str(tmp), useCompression=(suffix == ".nrrd"))
                    if suffix == ".mhd":
                        raw_target = target.with_suffix(".raw")
                        text = tmp.read_text().replace(f"ElementDataFile = {raw_tmp.name}",
                                                       f"ElementDataFile = {raw_target.name}")
                        tmp.write_text(text)
                        replace_file(raw_tmp, raw_target)
                        written.append(raw_target)
                finally:
                    raw_tmp.unlink(missing_ok=True)
            written.append(target)
    except RuntimeError as exc:
        for w in written:
            w.unlink(missing_ok=True)
        raise AllenViewerError(f"Could not write {path}: {clean_text(str(exc).strip().splitlines()[-1])}") from exc
    except OSError as exc:  # no space, read-only file system, a name too long
        for w in written:
            w.unlink(missing_ok=True)
        raise write_error(path, exc) from None
    with undo_on_failure(*written):
        write_sidecar(path, provenance(grid, "volume", volumes=names, files=[str(t) for t in targets],
                                   axes="x = AP (posterior), y = DV (ventral), z = ML (right); spacing 200 um",
                                   no_data_value=NO_DATA))
    return targets
