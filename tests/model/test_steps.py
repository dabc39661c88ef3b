"""The stepping keys' use cases (allen_viewer/model/steps.py), without Qt: the threshold step
within the slider's range and the slice step within the annotation.  Expected values come
from plain numpy over the embedded Pdyn grid (tests/numpy_reference.py)."""
from __future__ import annotations

import numpy as np
import pytest

from allen_viewer.model.steps import stepped_cursor, stepped_threshold, threshold_range
from tests import numpy_reference as ref

PDYN = 71717084


def _annotation_sizes() -> tuple[int, ...]:
    """The 25 µm annotation's (AP, DV, ML) sizes, read from the real file's NRRD header."""
    with open(ref.RESOURCES / "annotation_25.nrrd", "rb") as f:
        for line in f.read(2000).split(b"\n"):
            if line.startswith(b"sizes:"):
                return tuple(int(v) for v in line.split()[1:])
    raise AssertionError("no sizes in the NRRD header")


ANNOTATION_SHAPE = _annotation_sizes()


def test_the_threshold_steps_within_zero_and_the_genes_largest_energy(pdyn):
    energy = ref.energy(PDYN)
    top = float(energy[ref.has_data(PDYN)].max())
    assert threshold_range(pdyn, 3.0) == (0.0, pytest.approx(top))
    assert stepped_threshold(3.0, pdyn, +1, 0.5) == pytest.approx(3.5)
    assert stepped_threshold(3.0, pdyn, -1, 0.5) == pytest.approx(2.5)
    assert stepped_threshold(0.2, pdyn, -1, 0.5) == 0.0  # never below 0
    assert stepped_threshold(top - 0.1, pdyn, +1, 0.5) == pytest.approx(top)  # nor above the top
    # a threshold above the gene's top (typed, or kept pinned from another gene) stays reachable
    assert threshold_range(pdyn, top + 5.0)[1] == pytest.approx(top + 5.0)
    assert stepped_threshold(top + 5.0, pdyn, -1, 0.5) == pytest.approx(top + 4.5)


def test_without_a_gene_only_zero_bounds_the_threshold():
    assert threshold_range(None, 3.0) == (0.0, None)
    assert stepped_threshold(50.0, None, +1, 0.5) == 50.5
    assert stepped_threshold(0.3, None, -1, 0.5) == 0.0


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_the_cursor_steps_25_um_along_one_axis_within_the_annotation(axis):
    start = (5400.0, 3000.0, 2000.0)
    one = stepped_cursor(start, axis, +1)
    want = list(start)
    want[axis] += 25.0
    assert one == tuple(want)
    back = stepped_cursor(one, axis, -8)
    want[axis] -= 8 * 25.0
    assert back == tuple(want)
    last = (ANNOTATION_SHAPE[axis] - 1) * 25.0
    assert stepped_cursor(start, axis, 10_000)[axis] == last
    assert stepped_cursor(start, axis, -10_000)[axis] == 0.0
    others = [a for a in range(3) if a != axis]
    assert np.array_equal(np.take(stepped_cursor(start, axis, 3), others), np.take(start, others))


def test_a_cursor_between_slices_steps_from_its_nearest_slice():
    assert stepped_cursor((5410.0, 0.0, 0.0), 0, 1) == (5425.0, 0.0, 0.0)  # 5410 is slice 216 (5400)
