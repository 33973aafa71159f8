"""Equal-value regions (pipeline.regions) against scipy.ndimage.label, value by value."""

import numpy as np
import pytest
from scipy import ndimage

from pipeline.regions import label_equal_regions, region_table


def _partition(labels):
    """The set of regions, each as a frozenset of flat cell indices."""
    flat = labels.ravel()
    return {frozenset(np.flatnonzero(flat == k).tolist()) for k in np.unique(flat[flat >= 0])}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_regions_equal_scipy_labels_per_value(seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 4, size=(37, 29))
    valid = rng.random(values.shape) > 0.15
    labels, first = label_equal_regions(values, valid)
    # independent: scipy labels one value's cells at a time (4-connectivity)
    expected = set()
    for v in np.unique(values):
        lab, n = ndimage.label(valid & (values == v))
        expected |= _partition(np.where(lab > 0, lab, -1))
    assert _partition(labels) == expected
    assert len(first) == len(expected)
    assert np.all(labels[~valid] == -1)
    # numbered in row-major order of their first cell
    assert np.all(np.diff(first) > 0)
    assert np.all(labels.ravel()[first] == np.arange(len(first)))


def test_a_region_exactly_at_the_threshold_keeps_its_area():
    values = np.zeros((4, 5), dtype=np.int64)
    values[:2, :] = 1  # ten cells of 0.01 ha
    labels, first = label_equal_regions(values, np.ones(values.shape, bool))
    vals, area = region_table(labels, first, values, np.full(values.shape, 0.01))
    assert vals.tolist() == [1, 0]
    assert area[0] == 0.1  # np.sum of ten 0.01 gives 0.09999999999999999
    assert area[0] >= 0.1


def test_diagonal_contact_does_not_join():
    values = np.array([[1, 0], [0, 1]])
    labels, first = label_equal_regions(values, np.ones(values.shape, bool))
    assert len(first) == 4
