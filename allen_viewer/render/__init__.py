"""Drawing with pyvista/VTK, no Qt: what the 3-D view, the image export and the benchmarks share.

* :mod:`allen_viewer.render.layers`: the sphere layers (expression, difference), the brain
  outline's look, the orientation overlay, the colour bar and the camera presets.
* :mod:`allen_viewer.render.meshes`: structure and brain-outline surfaces from the 25 µm
  annotation, with their on-disk mesh cache.

Coordinates are CCF micrometres, x = AP (+ posterior), y = DV (+ ventral), z = ML (+ right).
The Qt widgets that show these (:mod:`allen_viewer.gui.scene3d`) live in ``gui/``; the
numbers they draw (grids, masks, comparisons) come from ``expression/`` and ``atlas/``,
which import nothing from here.  Importing this package imports nothing (pyvista starts in
the submodules).
"""
