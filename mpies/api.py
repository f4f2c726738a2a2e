"""mpies as a library: a stored policy to act with, a run's history as an array, a run in-process.

    import mpies

    outcome = mpies.run("cartpole", generations=20, path="runs/demo.h5", overwrite=True)
    policy = mpies.load_policy(outcome.path)         # the best policy, its normaliser applied
    env = policy.make_env()
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, _ = env.step(policy(obs))
    history = mpies.read_history(outcome.path)       # one row per generation
    history["generation"], history["wall_time"]

``import mpies`` stays cheap: ``mpies.load_policy`` and the others import this module (and numpy,
h5py, gymnasium) on first use. Errors are the command line's one-line exceptions:
:class:`mpies.config.ConfigError` (a config field or an argument) and
:class:`mpies.io.RunFileError` (a file that is missing, not a run, or lacks what was asked for).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import config as config_mod
from .config import ConfigError, RunConfig
from .io import RunFileError, open_run
from .io.archive import read_archive
from .io.history import read_run_history
from .io.policy import StoredPolicy, latest_normalizer, read_policy
from .tasks import BUILT_IN, FUNCTION_PREFIX, make_task

__all__ = ["LoadedPolicy", "load_policy", "read_history", "run"]

WHICH = ("best", "final")
POET = "poet"


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy stored in a run file, with the observation statistics it acts with.

    Call it on an observation of its environment (:meth:`make_env`) for the action, as
    ``mpies eval`` plays it: float ``(obs_dim,)`` -> an int (Discrete actions) or float
    ``(act_dim,)`` within the action bounds (Box actions). Observations are normalised as
    ``(obs - obs_mean) / obs_std`` first. Tasks whose parameters are not a policy over
    observations (``tetris``: feature weights; ``arm``: joint angles; ``ant``: a gait;
    ``fn:NAME``: the point itself) are not callable: their solution is :attr:`params`.

    Attributes:
        config: the run's configuration, as stored in the file.
        params: float64 ``(num_params,)``.
        obs_mean, obs_std: float64 ``(obs_dim,)``; empty when the run did not normalise.
        source: which policy: ``"best"``, ``"final"``, ``"cell 12"`` or ``"pair 3"``.
        kind: ``"gym"`` (a gymnasium id), ``"poet"`` (a POET pair's walker on its terrain), or the
            task of mpies's own: ``"tetris"``, ``"arm"``, ``"ant"``, ``"fn"``.
        max_steps: the step cap of an episode, as ``mpies eval`` plays it (0 for tasks that are
            not callable).
        terrain: POET pairs only: float64 ``(5,)`` terrain parameters and the terrain seed.
    """

    config: RunConfig
    params: np.ndarray
    obs_mean: np.ndarray
    obs_std: np.ndarray
    source: str
    kind: str
    max_steps: int = 0
    terrain: tuple[np.ndarray, int] | None = None
    _act: Callable | None = field(default=None, repr=False, compare=False)

    def __call__(self, obs):
        """The action for one observation (see the class docstring)."""
        if self._act is None:
            raise TypeError(f"a {self.config.env} policy does not act on observations: its solution is "
                            f".params, float64 ({self.params.size},)")
        return self._act(obs)

    def make_env(self, render_mode: str | None = None):
        """A new environment this policy acts in: the run's gymnasium environment (with its
        ``env_kwargs``), the pair's terrain (POET), or :class:`mpies.envs.tetris.TetrisEnv`
        (whose :meth:`~mpies.envs.tetris.TetrisEnv.best_placement` plays the weights).

        Args:
            render_mode: passed to the environment, e.g. ``"rgb_array"`` (gymnasium, POET).

        Raises:
            ConfigError: the task has no environment to step (``arm``, ``ant``, ``fn:NAME``), or
                the environment cannot be made (one line).
        """
        if self.kind == "gym":
            from .envs import make_env

            extra = {"render_mode": render_mode} if render_mode else {}
            return make_env(self.config.env, {**self.config.env_kwargs, **extra})
        if self.kind == POET:
            from .envs.bipedal_terrain import BipedalTerrain, TerrainParams

            vector, seed = self.terrain
            return BipedalTerrain(TerrainParams.from_vector(vector), seed, render_mode=render_mode)
        if self.kind == "tetris":
            from .envs.tetris import TetrisEnv

            task = make_task(self.config)  # checks env_kwargs (and numba) with the task's messages
            return TetrisEnv(task.height, task.features, task.max_pieces)
        raise ConfigError(f"env: {self.config.env} has no environment to step: its parameters are the "
                          f"solution itself (policy.params)")


def _task_kind(config: RunConfig) -> str:
    if config.algorithm == POET:
        return POET
    if config.env.startswith(FUNCTION_PREFIX):
        return "fn"
    return config.env if config.env in BUILT_IN else "gym"


def _elite(f, cell) -> tuple[StoredPolicy, str]:
    """The elite of archive cell ``cell`` (an index, or a descriptor inside the cell)."""
    archive = read_archive(f)
    if isinstance(cell, (int, np.integer)) and not isinstance(cell, bool):
        index = int(cell)
        if not 0 <= index < archive.cells:
            raise ConfigError(f"cell: got {index}; the archive of {f.filename} has cells 0..{archive.cells - 1}")
    else:
        try:
            descriptor = np.asarray(cell, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ConfigError(f"cell: got {cell!r}; expected a cell index or a descriptor of "
                              f"{archive.dims} numbers") from None
        if descriptor.shape != (archive.dims,) or not np.isfinite(descriptor).all():
            raise ConfigError(f"cell: got the descriptor {descriptor.tolist()}; the archive's descriptors "
                              f"are {archive.dims} finite numbers")
        index = int(archive.index_of(descriptor[None])[0])
    if not archive.state["occupied"][index]:
        raise RunFileError(f"{f.filename}: cell {index} is empty; {archive.filled_cells().size} of "
                           f"{archive.cells} cells are filled, the best elite is in cell {archive.best_cell()}")
    mean, std = latest_normalizer(f).mean_std()
    return StoredPolicy(archive.state["params"][index].copy(), mean, std), f"cell {index}"


def _pair(f, pair: int) -> tuple[StoredPolicy, str, tuple[np.ndarray, int]]:
    """The walker of POET pair ``pair`` at the last checkpoint, and its terrain."""
    pairs = f["poet/pairs"] if "poet/pairs" in f else {}
    if str(pair) not in pairs:
        ids = ", ".join(sorted(pairs, key=int)) or "none checkpointed yet"
        raise RunFileError(f"{f.filename}: no pair {pair}; its pairs: {ids}")
    group = pairs[str(pair)]
    terrain = (np.asarray(group.attrs["terrain"], dtype=np.float64), int(group.attrs["terrain_seed"]))
    return StoredPolicy(group["theta"][()], np.zeros(0), np.ones(0)), f"pair {pair}", terrain


def _select(f, config: RunConfig, which: str, cell, pair):
    """``(StoredPolicy, source, terrain or None)`` of an open run file; raises for a choice the
    run does not offer."""
    if which not in WHICH:
        raise ConfigError(f"which: got {which!r}; must be one of {', '.join(map(repr, WHICH))}")
    if cell is not None and pair is not None:
        raise ConfigError("cell, pair: pick one (cell: a MAP-Elites elite; pair: a POET pair)")
    if pair is not None:
        if config.algorithm != POET:
            raise ConfigError(f"pair: {f.filename} is not a POET run (algorithm {config.algorithm}); pairs "
                              f"are POET's")
        return _pair(f, int(pair))
    if config.algorithm == POET:
        pairs = ", ".join(sorted(f["poet/pairs"], key=int)) if "poet/pairs" in f else "none checkpointed yet"
        raise ConfigError(f"pair: {f.filename} is a POET run, whose walkers each belong to a terrain: "
                          f"choose a pair (--pair ID, pair=ID); its pairs: {pairs}")
    if cell is not None:
        return (*_elite(f, cell), None)
    return read_policy(f, which), which, None


def _actor(config: RunConfig, kind: str, stored: StoredPolicy, terrain) -> tuple[Callable | None, int]:
    """``(obs -> action, episode step cap)`` of a policy over observations; ``(None, 0)`` else."""
    if kind == POET:
        from .envs.bipedal_terrain import BipedalTerrain
        from .tasks.bipedal_terrain import TerrainEvaluator

        evaluator = TerrainEvaluator(config.policy.hidden,
                                     config.rollout.max_steps or BipedalTerrain.MAX_EPISODE_STEPS)
        try:
            identity = np.zeros(evaluator.obs_dim), np.ones(evaluator.obs_dim)
            return evaluator.policy.actor(stored.params, *identity), evaluator.max_steps
        finally:
            evaluator.close()
    if kind != "gym":
        return None, 0
    task = make_task(config)
    try:
        mean, std = stored.obs_mean, stored.obs_std
        if mean.size == 0:  # the run did not normalise observations
            mean, std = np.zeros(task.policy.obs_dim), np.ones(task.policy.obs_dim)
        return task.policy.actor(stored.params, mean, std), task.max_steps
    finally:
        task.close()


def load_policy(path: str | os.PathLike, which: str = "best", cell: int | Sequence[float] | None = None,
                pair: int | None = None) -> LoadedPolicy:
    """A policy of the run file ``path``, ready to act (see :class:`LoadedPolicy`).

    Args:
        path: an mpies run file (finished, live or stopped).
        which: ``"best"``: the best evaluated policy (``/best``), with the statistics it was
            evaluated with; ``"final"``: the mean of the latest checkpoint with its normaliser.
        cell: MAP-Elites runs: the elite of this archive cell, given by its index or by a
            descriptor float ``(descriptor_dim,)`` that falls in it (``which`` is then unused).
        pair: POET runs (required there): the walker of this pair id at the last checkpoint, on
            its terrain.

    Raises:
        RunFileError: the file is not a run, has no such policy yet, no archive or the cell is
            empty, or no such pair.
        ConfigError: a ``which``, ``cell`` or ``pair`` the run does not take, or an environment
            that cannot be made.
    """
    with open_run(path) as f:
        config = config_mod.from_toml(str(f.attrs["config"]))
        stored, source, terrain = _select(f, config, which, cell, pair)
    kind = _task_kind(config)
    act, max_steps = _actor(config, kind, stored, terrain)
    return LoadedPolicy(config, np.asarray(stored.params, dtype=np.float64), stored.obs_mean, stored.obs_std,
                        source, kind, max_steps, terrain, act)


def read_history(path: str | os.PathLike) -> np.ndarray:
    """The history of the run file ``path``: a numpy structured array, one row per generation
    (POET: iteration), with the columns of the run's family (search, qd or poet; their meaning and
    units are the ``doc`` and ``units`` attributes of ``/history`` and in :mod:`mpies.io.schema`),
    e.g. ``generation`` int64, ``wall_time`` float64 seconds since the start of the invocation.
    Files of mpies 0.1 are read as the same columns.

    Raises:
        RunFileError: not an mpies run file.
    """
    return read_run_history(path).history


def _with_overrides(config: RunConfig, overrides: dict) -> RunConfig:
    """``config`` with top-level fields replaced; a dict for a table (``strategy``, ``rollout``,
    ...) replaces only the fields it names. Validated as a config file is."""
    data = config_mod.parse_toml(config_mod.to_toml(config))
    for key, value in overrides.items():
        if dataclasses.is_dataclass(getattr(config, key, None)) and isinstance(value, dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return config_mod.from_dict(data)


def run(config: str | os.PathLike | RunConfig, *, path: str | os.PathLike | None = None,
        overwrite: bool = False, resume: str = "never", log: Callable[[str], None] | None = None,
        comm=None, **overrides):
    """Run ``config`` in this process, as ``mpies run`` does, and return its
    :class:`mpies.driver.Outcome` (``status``, ``generation`` completed, ``path``, ``exit_code``).

    In a plain Python process the run has one rank; started under ``mpiexec -n N python
    script.py``, every rank must call it and the N ranks run it together (the result is the same
    for any N).

    Args:
        config: a shipped config name (``mpies config`` lists them), a TOML file, or a
            :class:`~mpies.config.RunConfig`.
        path: the output file (``-o``) [default: the config's ``output.path``].
        overwrite: replace an existing output file (``--overwrite``).
        resume: ``"auto"`` continues an unfinished run of this config in the output file
            (``--resume auto``).
        log: called with each progress line on rank 0 [default: print them].
        comm: an mpi4py communicator [default: ``MPI.COMM_WORLD``].
        **overrides: config fields, e.g. ``generations=50, seed=1, strategy={"sigma": 0.05}`` (a
            dict for a table replaces only the fields it names).

    Raises:
        ConfigError: a bad config, field or override, or an output file that exists.
        RunFileError: an output file that cannot be created or resumed.
    """
    from . import driver
    from .comm import Comm

    base = config if isinstance(config, RunConfig) else config_mod.load(os.fspath(config))
    resolved = _with_overrides(base, overrides)
    if path is not None:
        resolved.output.path = os.fspath(path)
    return driver.run(resolved, overwrite=overwrite, resume=resume, log=log,
                      comm=None if comm is None else Comm(comm))
