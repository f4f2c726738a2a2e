"""Every random number of a run derives from (run seed, stream, generation, index).

Streams keep unrelated draws independent: changing the population size does not change the noise
table, the initial weights do not depend on the number of generations, and so on. Nothing here
depends on the rank, which is what makes results independent of the number of ranks. Every stream
a run draws from has its constant below; modules elsewhere never seed numpy themselves.
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
CVT_SAMPLES = 12
"""The uniform samples a CVT archive's k-means clusters into centroids."""
ACTION_NOISE = 13
"""Gaussian noise added to a policy's continuous actions, per episode."""
CMA_RESTART = 14
"""BIPOP-CMA-ES's uniform draws of a small-population restart's lambda and sigma, per restart."""
EMITTER_RESTART = 15
"""The elites that quality-diversity emitters restart at, per generation (emitters in order)."""


def derive(seed: int, stream: int, generation: int, count: int, salt: tuple[int, ...] = ()) -> np.ndarray:
    """``count`` independent uint64 words for ``(seed, stream, generation, *salt)``, shape ``(count,)``.

    ``salt`` tells apart draws of one generation that belong to different owners (POET's pairs).
    """
    sequence = np.random.SeedSequence([seed, stream, generation, *salt])
    return sequence.generate_state(count, dtype=np.uint64)


def generator(seed: int, stream: int, generation: int = 0) -> np.random.Generator:
    """A numpy Generator for ``(seed, stream, generation)``."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream, generation]))


def action_noise_generator(episode_seed: int, task: int) -> np.random.Generator:
    """The action-noise Generator of one episode: ``(episode seed, ACTION_NOISE, task)``.

    ``episode_seed`` is itself derived from the run seed (:func:`derive` of ``EPISODE``); ``task``
    (the member x episode index of the generation) tells apart episodes that share a seed, such as
    the two members of a mirrored pair.
    """
    return np.random.default_rng(np.random.SeedSequence([int(episode_seed), ACTION_NOISE, int(task)]))
