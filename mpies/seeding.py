"""Every random number of a run derives from (run seed, stream, generation, index).

Streams keep unrelated draws independent: changing the population size does not change the noise
table, the initial weights do not depend on the number of generations, and so on. Nothing here
depends on the rank, which is what makes results independent of the number of ranks.
"""

from __future__ import annotations

import numpy as np

NOISE_TABLE = 1
PERTURBATION = 2
EPISODE = 3
EVAL_EPISODE = 4
INIT_PARAMS = 5
OBS_SAMPLE = 7
PARENT_SELECTION = 8
ELITE_SELECTION = 9
POET_MUTATION = 10
POET_INIT = 11


def derive(seed: int, stream: int, generation: int, count: int, salt: tuple[int, ...] = ()) -> np.ndarray:
    """``count`` independent uint64 words for ``(seed, stream, generation, *salt)``, shape ``(count,)``.

    ``salt`` tells apart draws of one generation that belong to different owners (POET's pairs).
    """
    sequence = np.random.SeedSequence([seed, stream, generation, *salt])
    return sequence.generate_state(count, dtype=np.uint64)


def generator(seed: int, stream: int, generation: int = 0) -> np.random.Generator:
    """A numpy Generator for ``(seed, stream, generation)``."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream, generation]))
