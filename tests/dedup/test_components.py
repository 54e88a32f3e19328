"""Connected components of verified pairs and the keeper of each."""

import numpy as np

from stages.dedup.components import component_labels, keepers


def test_components_link_through_any_partner_and_keep_the_best_rank():
    left, right = np.array([0, 2, 5]), np.array([1, 3, 3])
    labels = component_labels(7, left, right)
    assert labels[0] == labels[1] and labels[2] == labels[3] == labels[5]
    assert len({labels[0], labels[2], labels[4], labels[6]}) == 4
    rank = np.array([6, 5, 4, 3, 2, 1, 0])
    assert keepers(labels, rank).tolist() == [1, 1, 5, 5, 4, 5, 6]


def test_no_nodes_and_no_edges():
    assert component_labels(0, np.array([], int), np.array([], int)).size == 0
    labels = component_labels(3, np.array([], int), np.array([], int))
    assert keepers(labels, np.arange(3)).tolist() == [0, 1, 2]
