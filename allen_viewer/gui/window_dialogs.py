"""The window's File and Help actions that open dialogs or the web browser: the screenshot
and session dialogs (File), the Allen experiment page, the user guide and About (Help).

Each reads the window's state (the gene on show, the settings' session folder) and writes
files through :mod:`allen_viewer.gui.session_views`; errors go to the window's banner.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog

from allen_viewer.errors import AllenViewerError
from allen_viewer.gui.about import experiment_page_url, show_about
from allen_viewer.gui.session_views import open_session_file, save_session_file


class WindowDialogs(QObject):
    """See the module docstring.  ``about_box``: the About box once shown."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.about_box = None

    def save_screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.w, "Save screenshot", "allen-viewer.png", "PNG images (*.png)")
        if path:
            if self.w.save_screenshot(path):
                self.w.show_status(f"Screenshot saved to {path}.")
            else:
                self.w.show_error(f"Could not save the screenshot to {path}.")

    def open_session_dialog(self) -> None:
        # starts in the folder of the last session saved or opened (issue 25)
        path, _ = QFileDialog.getOpenFileName(self.w, "Open session", self.w.settings.session_folder,
                                              "Sessions, sidecars and images (*.json *.png)")
        if path:
            if open_session_file(self.w, path):
                self._remember_session_folder(path)

    def save_session_dialog(self) -> None:
        from allen_viewer.gui.save_paths import ask_session_path

        folder = self.w.settings.session_folder  # the last session's folder (issue 25)
        suggested = str(Path(folder) / "allen-viewer-session.json") if folder else "allen-viewer-session.json"
        try:  # asks about the final name (.json added), not the one typed
            path = ask_session_path(self.w, suggested)
        except AllenViewerError as exc:
            self.w.show_error(str(exc))
            return
        if path is not None and save_session_file(self.w, path):
            self._remember_session_folder(path)

    def _remember_session_folder(self, path) -> None:
        self.w.settings.session_folder = str(Path(path).resolve().parent)

    def about(self) -> None:
        self.about_box = show_about(self.w)

    def experiment_page_url(self) -> str | None:
        """The Allen web page of the gene on show (gene A in compare mode), or None."""
        return experiment_page_url(self.w.grid.id) if self.w.grid is not None else None

    def open_experiment_page(self) -> bool:
        """Open the loaded gene's Allen experiment page (its ISH images) in the web browser."""
        url = self.experiment_page_url()
        if url is None:
            self.w.show_status("Open a gene first.")
            return False
        if not QDesktopServices.openUrl(QUrl(url)):
            self.w.show_error(f"Could not start a web browser; the page is {url}")
            return False
        self.w.show_status(f"Opened {url} in the web browser.")
        return True

    def open_user_guide(self) -> bool:
        """Open the installed user guide (rendered to HTML, see :mod:`allen_viewer.guide`) in the web browser."""
        from allen_viewer.guide import open_guide

        try:
            page = open_guide(opener=lambda url: QDesktopServices.openUrl(QUrl(url)))
        except AllenViewerError as exc:
            self.w.show_error(str(exc))
            return False
        self.w.show_status(f"Opened the user guide ({page}) in the web browser.")
        return True
