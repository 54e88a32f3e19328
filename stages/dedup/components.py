"""Clusters: connected components of verified pairs, and the keeper of each one.

A cluster is a connected component of the graph whose edges are the verified
pairs (Jaccard >= threshold), so a record joins a cluster through any one
verified partner. The keeper of a cluster is its member of best priority
(`stages.dedup.keeper`): the one with the smallest rank.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def component_labels(n_nodes: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Component label of each node (nodes without edges are their own component)."""
    if n_nodes == 0:
        return np.zeros(0, dtype=np.int64)
    ones = np.ones(len(left), dtype=np.int8)
    graph = coo_matrix((ones, (left, right)), shape=(n_nodes, n_nodes)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def keepers(labels: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """For each node, the node of smallest `rank` in its component (ranks are distinct)."""
    if labels.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((rank, labels))
    first = np.ones(order.size, dtype=bool)
    first[1:] = labels[order[1:]] != labels[order[:-1]]
    best_of_label = np.empty(int(labels.max()) + 1, dtype=np.int64)
    best_of_label[labels[order[first]]] = order[first]
    return best_of_label[labels]
