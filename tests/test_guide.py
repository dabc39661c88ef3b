"""The user guide that ships with the package: found, rendered to HTML, opened; the command."""
from __future__ import annotations

import re
import webbrowser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from allen_viewer import cli, guide
from allen_viewer.errors import AllenViewerError

REPO = Path(__file__).resolve().parents[1]


def test_the_guide_is_found_in_a_checkout():
    assert guide.guide_path() == REPO / "docs" / "user-guide.md"
    assert guide.guide_path().read_text(encoding="utf-8").startswith("# allen_viewer user guide")


def test_the_installed_layout_wins(tmp_path, monkeypatch):
    """Installed, the guide is allen_viewer/docs/ next to guide.py (what the wheel holds)."""
    package = tmp_path / "allen_viewer"
    (package / "docs").mkdir(parents=True)
    (package / "docs" / "user-guide.md").write_text("# guide\n")
    monkeypatch.setattr(guide, "__file__", str(package / "guide.py"))
    assert guide.guide_path() == (package / "docs" / "user-guide.md").resolve()
    (package / "docs" / "user-guide.md").unlink()
    with pytest.raises(AllenViewerError, match="not installed"):
        guide.guide_path()


def test_rendered_html_shows_every_picture_and_keeps_every_link(tmp_path):
    page = guide.render_guide(tmp_path)
    assert page == tmp_path / "user-guide.html"
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<title>allen_viewer user guide</title>" in text
    sources = re.findall(r'<img src="([^"]+)"', text)
    assert len(sources) >= 6  # screenshot, structure, export, compare, offline, first run
    for src in sources:
        assert src.startswith("file://")
        assert Path(unquote(urlparse(src).path)).is_file(), src
    anchors = set(re.findall(r'<h[1-6] id="([^"]+)"', text))
    for target in re.findall(r'href="#([^"]+)"', text):
        assert target in anchors, target
    assert 'href="library.html"' in text and (tmp_path / "library.html").is_file()
    assert "<table>" in text  # GitHub tables are rendered, not left as pipes
    assert "```" not in text


def test_open_guide_hands_the_html_to_the_browser(monkeypatch, isolated_environment):
    opened = []
    page = guide.open_guide(opener=lambda url: opened.append(url) or True)
    assert page == isolated_environment / "guide" / "user-guide.html" and page.is_file()
    assert opened == [page.as_uri()]
    with pytest.raises(AllenViewerError, match="Could not start a web browser"):
        guide.open_guide(opener=lambda url: False)


def test_an_unwritable_cache_is_one_clear_error(monkeypatch, tmp_path):
    blocker = tmp_path / "cache-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ALLEN_VIEWER_CACHE", str(blocker))
    with pytest.raises(AllenViewerError, match="Cannot write the user guide"):
        guide.open_guide(opener=lambda url: True)


def test_guide_command_prints_the_installed_path(capsys):
    assert cli.main(["guide"]) == 0
    assert capsys.readouterr().out.strip() == str(REPO / "docs" / "user-guide.md")


def test_guide_open_command_uses_the_web_browser(monkeypatch, capsys, isolated_environment):
    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    assert cli.main(["guide", "--open"]) == 0
    assert opened == [(isolated_environment / "guide" / "user-guide.html").as_uri()]
    assert "Opened the user guide" in capsys.readouterr().out
    monkeypatch.setattr(webbrowser, "open", lambda url: False)
    assert cli.main(["guide", "--open"]) == 1
    assert capsys.readouterr().err.startswith("allen-viewer: error: Could not start a web browser")


def test_help_points_at_the_guide_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "allen-viewer guide" in capsys.readouterr().out
