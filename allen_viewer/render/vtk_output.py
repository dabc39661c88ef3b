"""VTK's own messages never reach the user's terminal (docs/reliability.md, "VTK noise").

VTK prints its warnings and errors (``vtkScalarBarActor ... Need a lookup table``, with raw
ANSI colour codes) to stderr through its output window and its logger.  The program's rule
is that stderr carries only the program's own lines, so :func:`route_vtk_output` (called by
every render module that imports VTK; idempotent) turns both off and forwards each message
to the Python logger ``allen_viewer.vtk`` at DEBUG level, where a developer can still see
them (``logging.basicConfig(level=logging.DEBUG)``).

This is the net under the rule, not the rule itself: the causes are fixed where they are
(a colour bar is only shown with a lookup table, :mod:`allen_viewer.render.layers`).
"""
from __future__ import annotations

import logging

LOGGER = logging.getLogger("allen_viewer.vtk")
_ROUTED = False


def route_vtk_output() -> None:
    """VTK's output window and logger off stderr, their messages to :data:`LOGGER` (once)."""
    global _ROUTED
    if _ROUTED:
        return
    from vtkmodules.util.misc import calldata_type
    from vtkmodules.vtkCommonCore import VTK_STRING, vtkCommand, vtkLogger, vtkOutputWindow

    window = vtkOutputWindow.GetInstance()
    window.SetDisplayModeToNever()
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)

    @calldata_type(VTK_STRING)
    def forward(_obj, event, text=None) -> None:
        LOGGER.debug("%s: %s", event, str(text or "").strip())

    for event in (vtkCommand.ErrorEvent, vtkCommand.WarningEvent):
        window.AddObserver(event, forward)
    _ROUTED = True
