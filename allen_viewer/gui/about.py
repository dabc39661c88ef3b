"""Help > About: the versions, the data sources and the Allen citation.

The text is built by Qt-free functions (testable without a display, and without importing
Qt at all):

* :func:`collect_versions` -- allen_viewer, Python, Qt/PySide6, VTK, pyvista, pyvistaqt,
  numpy and the other libraries the viewer stands on, read from the installed package
  metadata (the running Qt's version too when PySide6 is already loaded), so asking does
  not start anything;
* :func:`notice_sources` -- the embedded files and where each came from, parsed from
  ``resources/NOTICE`` (the one place that records them);
* :func:`about_html` / :func:`about_plain_text` -- the dialog's text and its "details"
  (the versions and the whole NOTICE, plain, to copy into a bug report).

:func:`show_about` makes the (non-modal) dialog; it imports Qt when called.
"""
from __future__ import annotations

import html
import platform
import sys
from dataclasses import dataclass
from importlib import metadata

from allen_viewer import ALLEN_CITATION, __version__, config

LIBRARIES = (
    # (label, distribution names to try, in order)
    ("Qt for Python (PySide6)", ("PySide6-Essentials", "PySide6")),
    ("VTK", ("vtk",)),
    ("pyvista", ("pyvista",)),
    ("pyvistaqt", ("pyvistaqt",)),
    ("numpy", ("numpy",)),
    ("SimpleITK", ("SimpleITK",)),
    ("requests", ("requests",)),
)


def experiment_page_url(experiment_id: int) -> str:
    """The Allen Mouse Brain Atlas page of an experiment: its ISH section images."""
    return config.experiment_page(int(experiment_id))


def _distribution_version(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def collect_versions() -> dict[str, str]:
    """``{label: version}`` of the viewer, Python, Qt and the libraries (see the module doc).

    A library that is not installed reads "not installed".  Qt's own version (which may
    differ from PySide6's) is added when PySide6 is already imported; nothing is imported
    here to find it.
    """
    versions = {
        "allen_viewer": __version__,
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
    }
    for label, names in LIBRARIES:
        versions[label] = _distribution_version(names) or "not installed"
    qtcore = sys.modules.get("PySide6.QtCore")
    if qtcore is not None:
        versions["Qt (running)"] = qtcore.qVersion()
    versions["Platform"] = platform.platform()
    return versions


@dataclass(frozen=True)
class DataSource:
    """One embedded file: its name in ``resources/`` and what it is (from NOTICE)."""

    name: str
    description: str


def read_notice() -> str:
    """The text of ``resources/NOTICE`` ("" when it cannot be read)."""
    try:
        return (config.resources_dir() / "NOTICE").read_text(encoding="utf-8")
    except OSError:
        return ""


def notice_credit(text: str) -> list[str]:
    """The credit lines of NOTICE: its first block of lines indented by two spaces
    ("Allen Mouse Brain Atlas. (c) 2004 Allen Institute ...")."""
    block: list[str] = []
    for line in text.splitlines():
        if line.startswith("  ") and line.strip():
            block.append(line.strip())
        elif block:
            break
    return block


_PROVENANCE = ("Allen:", "Copied from", "sha256")


def notice_sources(text: str) -> list[DataSource]:
    """The embedded files listed under NOTICE's "Where each file came from", each with its
    description's first sentence.

    An entry starts at a line with no indentation whose first word names a file (it has
    a dot); its description is the rest of that line or, when there is none, its indented
    lines up to the first that ends a sentence (``.`` or ``:``), stopping before the
    provenance lines (``Allen:``, ``Copied from``, ``sha256``).  The list ends at the
    paragraph on what is *not* embedded.
    """
    sources: list[DataSource] = []
    lines = text.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.startswith("Where each file came from")), None)
    if start is None:
        return sources
    name: str | None = None
    words: list[str] = []
    done = True

    def flush() -> None:
        if name is not None:
            sources.append(DataSource(name, " ".join(words).rstrip(":").strip()))

    for line in lines[start:]:
        if line.startswith("Not embedded"):
            break
        if not line.strip():
            continue
        if not line[0].isspace():
            word, _, rest = line.strip().partition(" ")
            if "." not in word:
                continue
            flush()
            name, words = word, rest.split()
            done = bool(words)
        elif not done:
            stripped = line.strip()
            if stripped.startswith(_PROVENANCE):
                done = True
                continue
            words += stripped.split()
            done = stripped.endswith((".", ":"))
    flush()
    return sources


def notice_not_embedded(text: str) -> str:
    """NOTICE's closing paragraph on the data downloaded on demand (one line), or ""."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Not embedded"):
            para = []
            for more in lines[i:]:
                if not more.strip():
                    break
                para.append(more.strip())
            return " ".join(para)
    return ""


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def about_html(versions: dict[str, str] | None = None, notice: str | None = None) -> str:
    """The About dialog's text (HTML): the viewer, the data sources, the citation and the
    versions.  ``versions``/``notice`` default to :func:`collect_versions`/:func:`read_notice`."""
    versions = collect_versions() if versions is None else versions
    notice = read_notice() if notice is None else notice
    e = html.escape
    parts = [f"<h3>Allen Viewer {e(versions.get('allen_viewer', __version__))}</h3>",
             "<p>A desktop viewer and toolkit for the Allen Mouse Brain Atlas in-situ-hybridization "
             "expression grids. Not affiliated with or endorsed by the Allen Institute.</p>",
             "<p><b>Data sources</b></p>"]
    credit = notice_credit(notice)
    if credit:
        parts.append("<p>" + "<br>".join(e(line) for line in credit) + "</p>")
    sources = notice_sources(notice)
    if sources:
        parts.append("<p>Embedded (works offline):</p><ul>")
        parts += [f"<li><tt>{e(s.name)}</tt>: {e(s.description)}</li>" for s in sources]
        parts.append("</ul>")
    api, download = config.api_url(), config.download_url()
    later = notice_not_embedded(notice)
    if later:
        parts.append(f"<p>{e(later)}</p>")
    parts.append(f"<p>Downloaded on demand into the cache: experiment lists and expression grids from "
                 f"<tt>{e(_host(api))}</tt>, reference volumes from <tt>{e(_host(download))}</tt>. "
                 "The Allen Institute's Terms of Use and Citation Policy apply "
                 "(alleninstitute.org/terms-of-use/); the whole notice is under <i>Show Details</i>.</p>")
    parts.append(f"<p><b>Please cite</b><br>{e(ALLEN_CITATION)}</p>")
    parts.append("<p><b>Versions</b></p><table>")
    parts += [f"<tr><td>{e(k)}</td><td>&nbsp;&nbsp;{e(v)}</td></tr>" for k, v in versions.items()]
    parts.append("</table>")
    return "\n".join(parts)


def about_plain_text(versions: dict[str, str] | None = None, notice: str | None = None) -> str:
    """The same facts as plain text (the dialog's details: versions, citation, the whole NOTICE)."""
    versions = collect_versions() if versions is None else versions
    notice = read_notice() if notice is None else notice
    width = max(len(k) for k in versions)
    lines = [f"Allen Viewer {versions.get('allen_viewer', __version__)}", "", "Versions:"]
    lines += [f"  {k:<{width}}  {v}" for k, v in versions.items()]
    lines += ["", f"API: {config.public_url(config.api_url())}", f"Downloads: {config.public_url(config.download_url())}",
              f"Offline mode: {'on' if config.offline() else 'off'}", "", "Please cite:", ALLEN_CITATION, ""]
    if notice:
        lines += ["resources/NOTICE:", "", notice.rstrip()]
    return "\n".join(lines)


def show_about(parent=None):
    """Show the About box (non-modal) and return it (a QMessageBox)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(parent)
    box.setObjectName("aboutBox")
    box.setWindowTitle("About Allen Viewer")
    box.setIcon(QMessageBox.Icon.Information)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_html())
    box.setDetailedText(about_plain_text())
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.setModal(False)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
    fit_to_screen(box)
    return box


ABOUT_MAX_SCREEN_FRACTION = 0.8
"""The About box never takes more than this share of the screen's height (issue 25: it filled it)."""


ABOUT_TEXT_WIDTH = 820
"""The About text's width (px) on a screen wide enough: wide lines, so it is short."""


def fit_to_screen(box) -> None:
    """Keep ``box`` within :data:`ABOUT_MAX_SCREEN_FRACTION` of its screen's available height:
    a QMessageBox sizes itself to its text at ~500 px wide, which made the About box as tall as
    the screen, so the text gets :data:`ABOUT_TEXT_WIDTH` px (at most 60 % of the screen's
    width) and wraps into fewer lines (the details, when opened, scroll inside the box)."""
    from PySide6.QtWidgets import QLabel

    screen = box.screen()
    label = box.findChild(QLabel, "qt_msgbox_label")
    if screen is None or label is None:
        return
    area = screen.availableGeometry()
    label.setMinimumWidth(min(ABOUT_TEXT_WIDTH, int(area.width() * 0.6)))
    box.adjustSize()
    limit = int(area.height() * ABOUT_MAX_SCREEN_FRACTION)
    if box.height() > limit:
        box.resize(box.width(), limit)
