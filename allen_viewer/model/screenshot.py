"""What ``--screenshot F.png --part PART`` saves of the window (Qt-free names and words)."""
from __future__ import annotations

PARTS = ("window", "3d", "coronal", "sagittal", "horizontal")
"""The parts of the window a screenshot can save: the whole window (the default), the 3-D
view (in compare mode: its three linked views) or one slice pane (its image, slider and
title, with the panes' colour legend below it; the compare view's own pane in compare mode)."""
DEFAULT_PART = "window"

_WORDS = {"window": "whole window", "3d": "3-D view", "coronal": "coronal slice pane",
          "sagittal": "sagittal slice pane", "horizontal": "horizontal slice pane"}


def part_words(part: str, comparing: bool = False) -> str:
    """How the sidecar's ``export`` field names the part: ``whole window``, ``3-D view``,
    ``coronal slice pane``..., with `` (compare mode)`` while comparing."""
    if part not in _WORDS:
        raise ValueError(f"no part {part!r}; one of {', '.join(PARTS)}")
    return _WORDS[part] + (" (compare mode)" if comparing else "")
