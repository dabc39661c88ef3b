"""Checks on a user-given output path, before any work is done."""
from __future__ import annotations

from pathlib import Path

from allen_viewer.errors import AllenViewerError


def check_output_path(path: Path, force: bool) -> Path:
    """Refuse to replace an existing file unless ``force``, and a path in a missing folder."""
    path = Path(path)
    if path.exists() and not force:
        raise AllenViewerError(f"{path} already exists; pass --force to overwrite it.")
    if not path.parent.exists():
        raise AllenViewerError(f"The folder {path.parent} does not exist.")
    return path
