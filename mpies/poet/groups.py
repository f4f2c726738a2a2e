"""Which ranks work on which pairs: the subgroups POET's ES steps run on."""

from __future__ import annotations


def assign_groups(n_ranks: int, n_pairs: int) -> tuple[list[int], list[int]]:
    """Split ``n_ranks`` ranks into ``G = min(n_ranks, n_pairs)`` groups of consecutive ranks
    (sizes differ by at most one) and deal the pairs to the groups round-robin.

    Returns:
        ``(group_of_rank, group_of_pair)``: lists of length ``n_ranks`` and ``n_pairs``; pair
        positions are in the order of :meth:`mpies.poet.pairs.PairTable.slots`.
    """
    groups = max(1, min(n_ranks, n_pairs))
    return [r * groups // n_ranks for r in range(n_ranks)], [p % groups for p in range(n_pairs)]
