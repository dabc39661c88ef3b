"""The compare window's options <-> the ViewerState's ``compare_options`` (issue 21).

The compare view's four choices (shared/separate scale, difference/ratio, raw/rank/z scaling,
the |v| cut) live in :class:`allen_viewer.state.CompareOptions`, so a session, and the sidecar
of a compare figure, reopens the comparison as drawn.  :func:`bind_compare_options` shows the
state's options in a :class:`~allen_viewer.gui.compare_view.CompareView` now and whenever they
change, and writes the user's choices back into the state.
"""
from __future__ import annotations

from allen_viewer.state import CompareOptions

VIEW_NORMALISE = {"raw": "raw", "rank": "percentile", "z": "zscore"}
"""The state's ``normalise`` names -> the compare view's (the difference layer's) scale names."""
STATE_NORMALISE = {v: k for k, v in VIEW_NORMALISE.items()}


def options_of(view) -> CompareOptions:
    """The options a compare view shows now."""
    return CompareOptions(view.scale_box.currentData(), view.kind_box.currentData(),
                          STATE_NORMALISE[view.norm_box.currentData()], view.min_abs_box.value() / 100.0)


def show_options(view, options: CompareOptions) -> None:
    """Set the view's boxes to ``options`` and redraw once."""
    boxes = (view.scale_box, view.kind_box, view.norm_box, view.min_abs_box)
    for box in boxes:
        box.blockSignals(True)
    try:
        view.scale_box.setCurrentIndex(max(0, view.scale_box.findData(options.scale)))
        view.kind_box.setCurrentIndex(max(0, view.kind_box.findData(options.kind)))
        view.norm_box.setCurrentIndex(max(0, view.norm_box.findData(VIEW_NORMALISE[options.normalise])))
        view.min_abs_box.setValue(int(round(100 * options.min_abs_fraction)))
    finally:
        for box in boxes:
            box.blockSignals(False)
    view.apply_grids()


def bind_compare_options(view, state) -> None:
    """Keep ``view``'s boxes and ``state.compare_options`` equal, both ways."""
    opts = state.compare_options
    busy = [False]

    def to_view(*_args) -> None:
        if busy[0] or options_of(view) == CompareOptions(opts.scale, opts.kind, opts.normalise,
                                                         opts.min_abs_fraction):
            return
        busy[0] = True
        try:
            show_options(view, opts)
        finally:
            busy[0] = False

    def to_state(*_args) -> None:
        if busy[0]:
            return
        busy[0] = True
        try:
            now = options_of(view)
            for name in ("scale", "kind", "normalise", "min_abs_fraction"):
                setattr(opts, name, getattr(now, name))
        finally:
            busy[0] = False

    signals = [getattr(opts.events, n) for n in ("scale", "kind", "normalise", "min_abs_fraction")]
    for sig in signals:
        sig.connect(to_view)
    view.scale_box.currentIndexChanged.connect(to_state)
    view.kind_box.currentIndexChanged.connect(to_state)
    view.norm_box.currentIndexChanged.connect(to_state)
    view.min_abs_box.valueChanged.connect(to_state)
    view.destroyed.connect(lambda *_: [sig.disconnect(to_view, missing_ok=True) for sig in signals])
    to_view()
