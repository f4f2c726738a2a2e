"""The interface between the driver (the run's lifecycle) and a program (what a generation does).

:mod:`mpies.driver` owns files, signals, the stop vote, checkpoints and the progress line; a
program owns the science. A program is built identically on every rank as
``Program(config, comm, log)`` and answers:

==========================  =====================================================================
``family``                  its history columns (a key of :data:`mpies.io.schema.FAMILIES`)
``num_params``              parameters of one policy (a root attribute of the file)
``describe()``              the run's first line
``step(generation)``        one generation on every rank -> :class:`StepResult`
``state_dict()``            flat ``name -> array`` holding everything to continue bitwise, with
                            fixed shapes for the whole run; ``mean`` is what ``mpies eval
                            --which final`` plays and ``best/...`` the best policy so far
``load_state_dict(state)``  the inverse, on every rank
``best()``                  ``/best``'s arrays (params, fitness, generation, obs_mean, obs_std)
``docs()``                  ``name -> (doc, units)`` of every name of ``state_dict()`` and, as
                            ``best/NAME``, of ``best()``: the datasets' ``doc`` and ``units``
``create_tables(f)``        rank 0, once: the program's own groups in a new file
``append_tables(f)``        rank 0, every generation, in the same open as the history row
                            (SWMR rules: resize and overwrite datasets, create nothing)
``checkpoint_tables(f)``    rank 0, at checkpoints: may create groups and datasets
``truncate_tables(f, g)``   rank 0, on resume: drop the program's rows of generations >= g
``close()``                 every rank, at the end
==========================  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class StepResult:
    """What one generation produced.

    Attributes:
        fields: the generation's history columns: every column of the program's family plus
            ``env_steps`` (cumulative), ``rollout_seconds``, ``gather_seconds`` and
            ``update_seconds``; the driver adds the rest of :data:`mpies.io.schema.COMMON`.
        best: ``/best``'s new arrays when the best policy improved, else None.
        progress: the program's part of the progress line (e.g. ``fit mean ... | eval ...``).
        steps: environment steps taken in this generation.
    """

    fields: dict[str, float | int]
    best: dict[str, np.ndarray] | None = None
    progress: str = ""
    steps: int = 0


class Program:
    """Base class: the table hooks do nothing; subclasses implement the rest."""

    family = "search"
    unit = "gen"
    """What the progress line calls a generation."""
    evaluates = True
    """Whether ``best()`` is ever updated (the progress line shows the best so far only then)."""
    has_checkpoint_tables = False
    """Whether :meth:`checkpoint_tables` writes anything (it costs an extra open of the file)."""
    num_params: int

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, generation: int) -> StepResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def best(self) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def docs(self) -> dict[str, tuple[str, str]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def create_tables(self, f) -> None:
        pass

    def append_tables(self, f) -> None:
        pass

    def checkpoint_tables(self, f) -> None:
        pass

    def truncate_tables(self, f, generations: int) -> None:
        pass

    def close(self) -> None:
        pass


def fitness_fields(fitness: np.ndarray) -> dict[str, float | int]:
    """The ``fitness_*`` and ``failed`` history columns of member fitness (float ``(n,)``, NaN =
    failed)."""
    valid = fitness[~np.isnan(fitness)]
    if not valid.size:
        return {"fitness_mean": np.nan, "fitness_max": np.nan, "fitness_min": np.nan,
                "fitness_std": np.nan, "failed": int(fitness.size)}
    return {"fitness_mean": valid.mean(), "fitness_max": valid.max(), "fitness_min": valid.min(),
            "fitness_std": valid.std(), "failed": int(fitness.size - valid.size)}


BEST_DOCS = {
    "best/params": ("parameters of the best evaluated policy so far, float64 (num_params,)", "1"),
    "best/fitness": ("its evaluation: the mean return of its noiseless evaluation episodes (POET: the "
                     "pair's score); -inf before any", "return"),
    "best/generation": ("the generation it was evaluated in, counted from 1 as the history's "
                        "generation column; -1 before any", "generations"),
    "best/obs_mean": ("mean of the observation normaliser it plays with, float64 (obs_dim,)", "observation"),
    "best/obs_std": ("std of the observation normaliser it plays with, float64 (obs_dim,)", "observation"),
}
"""``docs()`` of the ``best/...`` names, which every program has."""

