"""The viewer's use cases, Qt-free: what the window does, apart from drawing it.

The window (``allen_viewer.gui``) is a shell that lays out the docks and connects widgets to
the :class:`~allen_viewer.state.ViewerState` and to these functions; the functions take the
loaded data (:class:`~allen_viewer.loaded_data.LoadedData`'s parts: the gene index, the
reference space, the grids) and the state, and return values or texts.  Nothing here
imports Qt, VTK or pyvista (tests/model checks it), so every use case is tested without a
``QApplication``:

* :mod:`.genes` -- requesting a gene: resolve a symbol or id, the threshold rule for a gene
  opened, swapping the genes of a comparison;
* :mod:`.structures` -- going to a structure: the point the cursor moves to;
* :mod:`.describe` -- the point under the cursor (status bar) and the structure summary;
* :mod:`.texts` -- the summary texts: window title, "gene loaded" and "comparing" messages,
  the offline note.
"""
