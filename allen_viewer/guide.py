"""The user guide that ships with the package, and opening it in a web browser.

The guide is ``docs/user-guide.md`` (with its pictures, and ``docs/library.md`` that it
links to).  A wheel carries these files as ``allen_viewer/docs/`` (pyproject maps the
``allen_viewer.docs`` package onto ``docs/`` and lists the files it takes); a checkout
reads them from ``docs/``.  :func:`guide_path` finds the Markdown file either way;
``allen-viewer guide`` prints it.

A browser shows Markdown as plain text, so :func:`open_guide` (``allen-viewer guide
--open``, *Help > User guide* in the window) first renders the guide to HTML in the cache
(``<cache>/guide/user-guide.html``, rewritten on every open, written atomically) with the
pictures referenced by absolute ``file://`` paths into the installed guide folder, then
hands that file to the browser.  Qt-free; markdown-it-py is imported only when rendering.
"""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Callable

from allen_viewer import config
from allen_viewer.errors import AllenViewerError

GUIDE_NAME = "user-guide.md"
SHIPPED_PAGES = ("user-guide.md", "library.md", "making-figures.md")
"""The Markdown pages that ship (pyproject's package-data for ``allen_viewer.docs`` lists
these and the pictures); links between them are rewritten to the rendered HTML."""


def guide_dir() -> Path:
    """The folder of the shipped guide: ``allen_viewer/docs`` when installed, ``docs`` in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "docs", here.parent / "docs"):
        if (candidate / GUIDE_NAME).is_file():
            return candidate
    raise AllenViewerError(f"The user guide is not installed (looked for {GUIDE_NAME} in {here / 'docs'} "
                           f"and {here.parent / 'docs'}).")


def guide_path() -> Path:
    """The installed user guide (Markdown)."""
    return guide_dir() / GUIDE_NAME


def _slug(text: str) -> str:
    """A heading's anchor as GitHub makes it (the guide's own ``#links`` use these)."""
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def _inline_text(token) -> str:
    return "".join(c.content for c in (token.children or []) if c.type in ("text", "code_inline"))


def render_html(markdown_path: Path) -> str:
    """One Markdown page of the guide as a standalone HTML page.

    Relative picture paths become absolute ``file://`` URIs into the page's folder (the HTML
    is written elsewhere, in the cache); links to the other shipped pages point at their
    rendered ``.html`` siblings; headings get GitHub's anchors.
    """
    from markdown_it import MarkdownIt

    folder = markdown_path.parent
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    tokens = md.parse(markdown_path.read_text(encoding="utf-8"))
    title = markdown_path.stem
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and i + 1 < len(tokens):
            heading = _inline_text(tokens[i + 1])
            tok.attrSet("id", _slug(heading))
            if tok.tag == "h1" and title == markdown_path.stem:
                title = heading
        for child in tok.children or []:
            if child.type == "image":
                src = str(child.attrGet("src") or "")
                if src and "://" not in src and not src.startswith("/"):
                    child.attrSet("src", (folder / src).resolve().as_uri())
            elif child.type == "link_open":
                href = str(child.attrGet("href") or "")
                page, _, anchor = href.partition("#")
                if page in SHIPPED_PAGES:
                    child.attrSet("href", Path(page).with_suffix(".html").name + (f"#{anchor}" if anchor else ""))
    body = md.renderer.render(tokens, md.options, {})
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>\n"
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.5;color:#222}\n"
        "img{max-width:100%}code,pre{background:#f3f3f3;border-radius:3px}pre{padding:.6em;overflow-x:auto}\n"
        "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.2em .5em;vertical-align:top}\n"
        "</style></head><body>\n" + body + "</body></html>\n"
    )


def render_guide(out_dir: Path | None = None) -> Path:
    """Render every shipped page into ``out_dir`` (default ``<cache>/guide``); the user guide's HTML path."""
    from allen_viewer.io.atomic import atomic_write

    source = guide_dir()
    out_dir = Path(out_dir) if out_dir is not None else config.cache_dir() / "guide"
    try:
        for name in SHIPPED_PAGES:
            page = source / name
            if page.is_file():
                with atomic_write(out_dir / Path(name).with_suffix(".html").name, "w") as fh:
                    fh.write(render_html(page))
    except OSError as exc:
        raise AllenViewerError(f"Cannot write the user guide's HTML to {out_dir} ({exc.strerror or exc}); "
                               f"the guide itself is {source / GUIDE_NAME}.") from None
    return out_dir / Path(GUIDE_NAME).with_suffix(".html").name


def open_guide(opener: Callable[[str], bool] | None = None) -> Path:
    """Render the guide (:func:`render_guide`) and open it with ``opener(url)`` (default: ``webbrowser.open``).

    Returns the HTML file; raises :class:`AllenViewerError` when no browser could be started.
    """
    page = render_guide()
    if opener is None:
        import webbrowser

        opener = webbrowser.open
    if not opener(page.as_uri()):
        raise AllenViewerError(f"Could not start a web browser; the guide is {page}")
    return page
