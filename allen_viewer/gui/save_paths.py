"""Asking where to save, and before replacing anything: the window's side of the output rules.

docs/reliability.md, "Sidecars and --force": the save dialogs' own overwrite question is
off (it would ask about the name typed, not the final one with its suffix, and not about
the sidecar); instead, once the final name is known,

* :func:`ask_session_path` (*File > Save session…*) adds ``.json`` when missing and then
  asks before replacing that final name;
* :func:`ask_table_path` (the library search panel's *Export…*) adds ``.csv``, refuses a
  file at the sidecar's name that allen_viewer did not write (a message, nothing written),
  and asks before replacing the CSV or its sidecar, naming both.

:func:`confirm_replace` is the one question (the tests answer it by replacing
``QMessageBox.question``).
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from allen_viewer.errors import AllenViewerError


def confirm_replace(parent: QWidget | None, existing: list[Path]) -> bool:
    """Ask before replacing ``existing`` (named one a line); True to go on."""
    names = "\n".join(str(p) for p in existing)
    answer = QMessageBox.question(
        parent, "Replace existing files?",
        f"These files exist and will be replaced:\n\n{names}\n\nReplace them?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def _ask(parent, caption: str, suggested: str, file_filter: str, suffix: str) -> Path | None:
    path, _ = QFileDialog.getSaveFileName(parent, caption, suggested, file_filter,
                                          options=QFileDialog.Option.DontConfirmOverwrite)
    if not path:
        return None
    return Path(path if path.lower().endswith(suffix) else path + suffix)


def ask_session_path(parent: QWidget | None, suggested: str = "allen-viewer-session.json") -> Path | None:
    """The final path of *Save session* (``.json`` added), asked about when it exists; None
    when cancelled.  A folder or special file there: AllenViewerError (never replaced)."""
    path = _ask(parent, "Save session", suggested, "Sessions (*.json)", ".json")
    if path is None:
        return None
    if os.path.lexists(path):
        if not path.is_file() or path.is_symlink():
            raise AllenViewerError(f"{path} exists and is not a regular file; not replaced.")
        if not confirm_replace(parent, [path]):
            return None
    return path


def ask_table_path(parent: QWidget | None, caption: str, suggested: str) -> Path | None:
    """The final path of a CSV export with its sidecar (``.csv`` added), asked about when the
    CSV or its sidecar exists; None when cancelled.  AllenViewerError for what is never
    replaced (a foreign file at the sidecar's name, a folder, a special file)."""
    from allen_viewer.io.guard import check_output_path, existing_output_files

    path = _ask(parent, caption, suggested, "CSV files (*.csv)", ".csv")
    if path is None:
        return None
    check_output_path(path, True)
    existing = existing_output_files(path)
    if existing and not confirm_replace(parent, existing):
        return None
    return path
