"""One offline main window for a test module (the figures tests: picking, structure styles,
keys): the session's atlas, no server (Pdyn and Nrp1 are embedded), empty cache and settings.

(The shared window factory of ``tests/gui/conftest.py`` may replace this.)
"""
from __future__ import annotations

import contextlib

import pytest
import pyvista as pv
from PySide6.QtTest import QTest

from allen_viewer.data import AtlasData
from allen_viewer.gui.main_window import MainWindow
from allen_viewer.gui.settings import ViewerSettings
from allen_viewer.store.cache import Cache


def wait(predicate, ms: int = 60_000) -> bool:
    """Process events until ``predicate()`` is true or ``ms`` have passed; its last value."""
    while ms > 0 and not predicate():
        QTest.qWait(20)
        ms -= 20
    return predicate()


@contextlib.contextmanager
def offline_window(tmp_path_factory, ontology, reference_space, gene_index, gene: str | None = None):
    """A shown 1600 x 1000 window with the atlas and outline loaded (and ``gene`` shown)."""
    pv.global_theme.anti_aliasing = None
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALLEN_VIEWER_OFFLINE", "1")
        data = AtlasData(cache=Cache(tmp_path_factory.mktemp("offline_cache")))
        data.__dict__.update(ontology=ontology, reference_space=reference_space, gene_index=gene_index)
        w = MainWindow(data, ViewerSettings(tmp_path_factory.mktemp("settings") / "s.ini"), notices=False)
        w.resize(1600, 1000)
        w.show()
        QTest.qWaitForWindowExposed(w)
        assert wait(lambda: w.space is not None and w.index is not None and w.outline_mesh is not None
                    and not w.is_busy())
        if gene is not None:
            w.request_gene(gene)
            assert wait(lambda: w.grid is not None and w.grid.gene == gene and not w.is_busy())
        try:
            yield w
        finally:
            w.close()
            w.deleteLater()
            QTest.qWait(50)
