"""Linked cameras: several :class:`~allen_viewer.render.scene.Scene` s kept in one pose (Qt-free).

The compare view's three panels each keep their own vtkCamera (and so their own clipping
range); when any of them changes position, focal point, view-up, view angle or zoom -- by
the mouse, the keyboard or a preset -- :class:`CameraLink` sets the others to the same pose
at once and marks them for a frame; the host renders them (:meth:`CameraLink.render_pending`)
when it likes (the window: on the next pass of its event loop, so several changes in one
pass cost one frame each).
"""
from __future__ import annotations

from typing import Callable

from vtkmodules.vtkCommonCore import vtkCommand


def _pose(camera) -> tuple:
    return (camera.GetPosition(), camera.GetFocalPoint(), camera.GetViewUp(), camera.GetViewAngle(),
            camera.GetParallelScale(), camera.GetParallelProjection())


class CameraLink:
    """Keeps the cameras of ``scenes`` in one pose; ``on_follow()`` is called after the
    others were set (the host schedules :meth:`render_pending`); ``renders`` counts the
    follower frames."""

    def __init__(self, scenes: list, on_follow: Callable[[], None] | None = None):
        self.scenes = list(scenes)
        self.on_follow = on_follow
        self.renders = 0
        self._syncing = False
        self._last: tuple | None = None
        self._pending: list = []
        self._observers = []
        for scene in self.scenes:
            cam = scene.plotter.renderer.GetActiveCamera()
            tag = cam.AddObserver(vtkCommand.ModifiedEvent, lambda obj, _e, s=scene: self._on_modified(s, obj))
            self._observers.append((cam, tag))

    def _on_modified(self, source, camera) -> None:
        if self._syncing or source.closed:
            return
        pose = _pose(camera)
        if pose == self._last:
            return  # e.g. only the clipping range changed
        self._last = pose
        self._syncing = True
        try:
            for scene in self.scenes:
                if scene is source or scene.closed:
                    continue
                cam = scene.plotter.renderer.GetActiveCamera()
                cam.SetPosition(*pose[0])
                cam.SetFocalPoint(*pose[1])
                cam.SetViewUp(*pose[2])
                cam.SetViewAngle(pose[3])
                cam.SetParallelScale(pose[4])
                cam.SetParallelProjection(pose[5])
                scene.plotter.renderer.ResetCameraClippingRange()
                if scene not in self._pending:
                    self._pending.append(scene)
        finally:
            self._syncing = False
        if self.on_follow is not None:
            self.on_follow()

    def render_pending(self) -> None:
        """Render the scenes that followed since the last call."""
        pending, self._pending = self._pending, []
        for scene in pending:
            if not scene.closed:
                scene.render()
                self.renders += 1

    def close(self) -> None:
        """Stop linking (idempotent)."""
        for cam, tag in self._observers:
            cam.RemoveObserver(tag)
        self._observers = []
        self._pending = []
