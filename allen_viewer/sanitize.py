"""One sanitiser for text that came from outside (a server, a file, a zip member name).

Such text is never printed raw: :func:`clean_text` removes terminal escape sequences
(CSI ``ESC [ ... m``, OSC ``ESC ] ... BEL``, lone ``ESC x``), every other control
character (C0, DEL, C1) and Unicode format/line-separator characters, folds all white
space (newlines included) into single spaces and bounds the length, marking a cut with
``...``.  So a server ``msg`` cannot clear the terminal, colour it, move the cursor or
fake a second line (a pretend traceback).  The CLI passes every error message through it
once more before printing, and the viewer's banner does too.
"""
from __future__ import annotations

import re
import unicodedata

MAX_TEXT = 300
"""Default longest cleaned text, in characters (the ``...`` included)."""

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"          # CSI: colours, cursor moves, clear screen
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"      # DCS, SOS, PM, APC strings
    r"|\x1b[@-Z\\-_]?"                     # other two-character escapes, or a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"              # 8-bit CSI
)


_CREDENTIALS = re.compile(r"(?<=//)[^/?#@\s]*@")
"""The ``user:password@`` part of a URL's authority (``http://user:pw@host/...``)."""


def mask_credentials(text: str) -> str:
    """``text`` with the user name and password of every URL in it replaced by ``***``
    (``http://user:pw@host`` -> ``http://***@host``).  The one place secrets in URLs are
    masked: every printed error line (:func:`clean_text`) and every sidecar's ``source_url``
    (:mod:`allen_viewer.export.provenance`) go through it; requests still use the real URL."""
    return _CREDENTIALS.sub("***@", str(text))


def clean_text(text, limit: int = MAX_TEXT) -> str:
    """``text`` (any object; bytes are decoded as UTF-8 with replacement) as one printable
    line of at most ``limit`` characters, credentials in URLs masked (:func:`mask_credentials`)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text[: limit * 8 + 1024]).decode("utf-8", "replace")
    text = str(text)
    if len(text) > limit * 8 + 1024:  # never scan a megabyte to print 300 characters
        text = text[: limit * 8 + 1024]
    text = mask_credentials(_ESCAPES.sub("", text))
    out = []
    for ch in text:
        if ch.isspace():
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            continue
        else:
            out.append(ch)
    line = " ".join("".join(out).split())
    limit = max(4, int(limit))
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


MAX_ID_DIGITS = 12
"""Longest experiment/gene id accepted (Allen ids have at most 9 digits)."""


def is_id(text) -> bool:
    """True when ``text`` (stripped) is an id: 1 to :data:`MAX_ID_DIGITS` ASCII digits.

    ``str.isdigit`` alone also accepts ``'²'`` and other non-ASCII digits that ``int()``
    then refuses, and ids of thousands of digits that ``int()`` refuses too."""
    text = str(text).strip()
    return 0 < len(text) <= MAX_ID_DIGITS and text.isascii() and text.isdigit()
