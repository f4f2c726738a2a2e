"""Perturbations rebuilt from keys, never sent: ``key -> eps`` with ``eps ~ N(0, I)``, float32.

Two sources share one interface (:class:`NoiseTable`, :class:`CounterNoise`):

* ``table``: one table of Gaussian float32 numbers per node, in an MPI shared-memory window
  (Salimans et al. 2017). A key is an offset; ``eps = table[key : key + dim]``. Reading a slice is
  far cheaper than drawing Gaussians, which is what makes the update memory-bound.
* ``generator``: a key seeds a counter-based Philox generator that draws ``eps`` afresh. No
  memory, more arithmetic.

Keys derive from (run seed, generation, pair index) only, so every rank derives the same ones.
"""

from __future__ import annotations

import numpy as np

from . import seeding
from .config import ConfigError


class _NoiseSource:
    """Shared bookkeeping: ``dim`` parameters, keys from the run seed."""

    def __init__(self, seed: int, dim: int):
        self.seed = seed
        self.dim = dim

    def keys(self, generation: int, count: int, salt: tuple[int, ...] = ()) -> np.ndarray:
        """``count`` perturbation keys for ``generation``, int64 array ``(count,)``.

        ``salt``: extra integers that give independent keys to different owners of one generation.
        """
        words = seeding.derive(self.seed, seeding.PERTURBATION, generation, count, salt)
        return self._keys_from_words(words)

    def salted(self, salt: tuple[int, ...]) -> "SaltedNoise":
        """This source with keys of its own (same vectors, independent keys), e.g. one per POET pair."""
        return SaltedNoise(self, salt)

    def weighted_sum(self, weights: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """``sum_j weights[j] * eps(keys[j])`` in key order, float64 array ``(dim,)``.

        Entries with weight 0 are skipped (failed or tied members cost nothing).
        """
        return self._accumulate(weights, keys, squared=False)

    def weighted_square_sum(self, weights: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """``sum_j weights[j] * eps(keys[j])**2`` (elementwise, squared in float64) in key order,
        float64 ``(dim,)``: the second pass over the keys that per-parameter step sizes need
        (SNES, PGPE). Entries with weight 0 are skipped."""
        return self._accumulate(weights, keys, squared=True)

    def _accumulate(self, weights: np.ndarray, keys: np.ndarray, squared: bool) -> np.ndarray:
        """One vector at a time into one float64 accumulator: O(dim) memory for any population."""
        total = np.zeros(self.dim, dtype=np.float64)
        scratch = np.empty(self.dim, dtype=np.float64)
        for weight, key in zip(weights, keys):
            if weight != 0.0:
                vector = self.vector(int(key))
                if squared:
                    np.multiply(vector, vector, out=scratch, dtype=np.float64)
                    scratch *= weight
                else:
                    np.multiply(vector, weight, out=scratch)
                total += scratch
        return total


class NoiseTable(_NoiseSource):
    """Gaussian table shared by the ranks of a node; a key is an offset into it.

    Args:
        seed: run seed; the table's contents depend on it alone.
        dim: number of policy parameters (length of each perturbation).
        size: float32 entries in the table; must be >= ``dim``.
        comm: a :class:`mpies.comm.Comm`, or ``None`` for a private (unshared) table.
    """

    mode = "table"

    def __init__(self, seed: int, dim: int, size: int, comm=None):
        super().__init__(seed, dim)
        if size < dim:
            raise ConfigError(
                f"noise.table_size: got {size}; must be >= the {dim} policy parameters"
            )
        self.size = size

        def fill(array: np.ndarray) -> None:
            seeding.generator(seed, seeding.NOISE_TABLE).standard_normal(size, dtype=np.float32, out=array)

        if comm is None:
            self.table = np.empty(size, dtype=np.float32)
            fill(self.table)
        else:
            self.table = comm.node_shared_array(size, np.float32, fill)

    def _keys_from_words(self, words: np.ndarray) -> np.ndarray:
        return (words % np.uint64(self.size - self.dim + 1)).astype(np.int64)

    def vector(self, key: int) -> np.ndarray:
        """The perturbation for ``key``: a read-only float32 view ``(dim,)``."""
        return self.table[key : key + self.dim]


class CounterNoise(_NoiseSource):
    """Counter-based generator: a key seeds Philox, which draws the perturbation on demand."""

    mode = "generator"

    def _keys_from_words(self, words: np.ndarray) -> np.ndarray:
        return (words >> np.uint64(1)).astype(np.int64)  # keep keys non-negative int64

    def vector(self, key: int) -> np.ndarray:
        """The perturbation for ``key``: float32 ``(dim,)``, drawn afresh."""
        generator = np.random.Generator(np.random.Philox(key=key))
        return generator.standard_normal(self.dim, dtype=np.float32)


class SaltedNoise:
    """A view of a noise source whose :meth:`keys` carry a fixed salt; vectors are the source's."""

    def __init__(self, source: _NoiseSource, salt: tuple[int, ...]):
        self.source, self.salt, self.dim = source, tuple(int(s) for s in salt), source.dim

    def keys(self, generation: int, count: int) -> np.ndarray:
        return self.source.keys(generation, count, self.salt)

    def vector(self, key: int) -> np.ndarray:
        return self.source.vector(key)

    def weighted_sum(self, weights: np.ndarray, keys: np.ndarray) -> np.ndarray:
        return self.source.weighted_sum(weights, keys)

    def weighted_square_sum(self, weights: np.ndarray, keys: np.ndarray) -> np.ndarray:
        return self.source.weighted_square_sum(weights, keys)


def make_noise(mode: str, seed: int, dim: int, table_size: int, comm=None):
    """Build the noise source named by ``noise.mode``."""
    if mode == "table":
        return NoiseTable(seed, dim, table_size, comm)
    return CounterNoise(seed, dim)
