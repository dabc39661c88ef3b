"""Connect a widget to one field of the :class:`~allen_viewer.state.ViewerState`, both ways.

The one pattern of the window (napari's ``connect_setattr``, see docs/design.md "The data
path"): a control **writes** the state (``signal -> setattr(model, field, value)``) and
**follows** it (``model.events.<field> -> setter(value)``); it never calls another widget.
Views that only show a field subscribe with :func:`follow`.

No echo loops: while the state's event sets the widget, the widget's own signal does not
write back (the widget's signals are blocked for that call, and a value equal to the
field's is not written: psygnal fires only on a change).  The connections are undone when
the widget is destroyed, so a closed dock never hears the state again.
"""
from __future__ import annotations

from collections.abc import Callable


def bind(signal, model, name: str, setter: Callable[[object], None], widget=None,
         convert: Callable[[object], object] | None = None, initial: bool = True) -> Callable[[], None]:
    """Widget -> ``model.<name>`` through ``signal``; ``model.events.<name>`` -> ``setter``.

    ``signal``: the widget's Qt signal carrying the new value (``toggled``, ``valueChanged``);
    ``convert``: maps that value to the field's (default: as is); ``setter``: shows a value
    of the field in the widget; ``widget``: the QObject whose signals are blocked while
    ``setter`` runs (and whose ``destroyed`` disconnects the state's event); ``initial``:
    show the field's value now.  Returns a function that undoes both connections."""
    conv = convert or (lambda v: v)

    def write(*args) -> None:
        value = conv(args[0] if args else None)
        if getattr(model, name) != value:
            setattr(model, name, value)

    def show(value, *_old) -> None:
        if widget is not None:
            blocked = widget.blockSignals(True)
            try:
                setter(value)
            finally:
                widget.blockSignals(blocked)
        else:
            setter(value)

    signal.connect(write)
    event = getattr(model.events, name)
    event.connect(show)

    def undo(*_args) -> None:
        event.disconnect(show, missing_ok=True)
        try:
            signal.disconnect(write)
        except (RuntimeError, TypeError):  # the widget (and its signal) is gone already
            pass

    if widget is not None:
        widget.destroyed.connect(lambda *_: event.disconnect(show, missing_ok=True))
    if initial:
        show(getattr(model, name))
    return undo


def follow(model, names, callback: Callable[..., None], owner=None, initial: bool = False) -> Callable[[], None]:
    """Call ``callback(value, old)`` whenever one of the fields ``names`` (a name or a list)
    of ``model`` changes; ``owner`` (a QObject): disconnect when it is destroyed;
    ``initial``: call it once now with each field's value (``old`` None).  Returns a
    function that disconnects."""
    names = [names] if isinstance(names, str) else list(names)
    events = [getattr(model.events, n) for n in names]
    for event in events:
        event.connect(callback)

    def undo(*_args) -> None:
        for event in events:
            event.disconnect(callback, missing_ok=True)

    if owner is not None:
        owner.destroyed.connect(undo)
    if initial:
        for n in names:
            callback(getattr(model, n), None)
    return undo
