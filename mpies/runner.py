"""The generation loop: the only place that mixes MPI, a strategy, rollouts and I/O.

Every rank runs this same deterministic loop (DESIGN.md)::

    ask     population = strategy.ask()            same keys on every rank, no communication
    eval    this rank's members i = r, r+p, ...    plus noiseless episodes of the mean when due
    gather  Allgatherv of one float64 row per task: fitness, length, steps, observation sums
    tell    strategy.tell(all fitness)             identical on every rank
    log     rank 0 appends a history row; checkpoints on schedule, at the end, or on a signal
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__, seeding
from .comm import Comm, members_of
from .config import ConfigError, RunConfig, to_toml
from .errors import RunAborted
from .io import RunFileError, RunWriter, open_run, read_state
from .io.writer import describe
from .io.schema import HISTORY_DTYPE
from .noise import make_noise
from .policies import ObsNormalizer
from .algorithms import ALGORITHMS
from .tasks import make_task

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: stopped on a signal after a checkpoint; resume to continue
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


@dataclass
class RunOutcome:
    status: str          # "finished" or "preempted"
    generation: int      # generations completed
    path: Path


class _RowLayout:
    """Columns of the per-task row gathered each generation: 3 scalars, then observation sums
    (policy tasks with normalisation) and the behaviour descriptor (quality-diversity tasks)."""

    FITNESS, LENGTH, STEPS, OBS_COUNT = range(4)

    def __init__(self, obs_dim: int, descriptor_dim: int = 0):
        self.obs_dim, self.descriptor_dim = obs_dim, descriptor_dim
        self.obs_sum = slice(4, 4 + obs_dim)
        self.obs_sumsq = slice(4 + obs_dim, 4 + 2 * obs_dim)
        self.descriptor = slice(4 + 2 * obs_dim, 4 + 2 * obs_dim + descriptor_dim)
        self.width = 4 + 2 * obs_dim + descriptor_dim


class Runner:
    """One run of ``config`` writing ``path``; construct on every rank of ``comm``."""

    def __init__(self, config: RunConfig, path: Path, comm: Comm, log=print):
        self.config, self.path, self.comm, self.log = config, Path(path), comm, log
        self.task = make_task(config, comm.rank)
        theta0 = self.task.initial_params(seeding.generator(config.seed, seeding.INIT_PARAMS))
        self.noise = make_noise(config.noise.mode, config.seed, self.task.num_params,
                                config.noise.table_size, comm)
        self.strategy = ALGORITHMS[config.algorithm](config.strategy, theta0, self.noise)
        if self.strategy.population_size < comm.size:
            raise ConfigError(
                f"strategy.population: got {self.strategy.population_size}; must be >= the number of "
                f"ranks ({comm.size}) so that every rank evaluates a member")
        self.normalizer = ObsNormalizer(self.task.obs_dim)
        self.layout = _RowLayout(self.task.obs_dim, self.task.descriptor_dim)
        if getattr(self.strategy, "uses_descriptors", False) and not self.task.descriptor_dim:
            raise ConfigError(f"algorithm: {config.algorithm} needs behaviour descriptors, which env "
                              f"{config.env!r} does not provide; use a quality-diversity task (e.g. arm)")
        mean, std = self.normalizer.mean_std()
        self.best = {"params": np.zeros_like(theta0), "fitness": np.asarray(-np.inf),
                     "generation": np.asarray(-1, dtype=np.int64), "obs_mean": mean, "obs_std": std}
        self.env_steps = 0
        self.generation = 0
        self.writer: RunWriter | None = None
        self._signalled = False

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        state = {f"strategy/{k}": v for k, v in self.strategy.state_dict().items()}
        state.update({f"normalizer/{k}": np.array(v) for k, v in self.normalizer.state.items()})
        state.update({f"best/{k}": np.array(v) for k, v in self.best.items()})
        state["counters/env_steps"] = np.asarray(self.env_steps, dtype=np.int64)
        state["mean"] = np.array(self.strategy.mean)  # what `mpies eval --which final` plays
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        def sub(prefix):
            return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        self.strategy.load_state_dict(sub("strategy/"))
        self.normalizer.state = {k: np.array(v) for k, v in sub("normalizer/").items()}
        self.best = {k: np.array(v) for k, v in sub("best/").items()}
        self.env_steps = int(state["counters/env_steps"])

    def start_new(self, overwrite: bool) -> None:
        """Create the output file on rank 0; every rank raises RunFileError if that fails."""
        error = None
        if self.comm.rank == 0:
            c = self.config
            attrs = {"mpies_version": __version__, "algorithm": c.algorithm, "env": c.env,
                     "seed": c.seed, "ranks": self.comm.size, "config": to_toml(c),
                     "host": socket.gethostname(), "start_time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                     "num_params": self.task.num_params}
            try:
                archive = getattr(self.strategy, "archive", None)
                self.writer = RunWriter.create(self.path, attrs, self.state_dict(), self.best, overwrite,
                                               (archive.state, archive.geometry()) if archive else None)
            except OSError as exc:
                error = RunFileError(f"output: cannot create {self.path}: {describe(exc)}; free space, or "
                                     f"pass -o with another path")
        error = self.comm.bcast(error)
        if error is not None:
            raise error

    def start_resumed(self) -> None:
        """Load the latest checkpoint of the output file (read on rank 0, broadcast once)."""
        loaded = None
        if self.comm.rank == 0:
            try:
                with open_run(self.path) as f:
                    loaded = read_state(f)
            except RunFileError as exc:
                loaded = exc
        loaded = self.comm.bcast(loaded)
        if isinstance(loaded, RunFileError):
            raise loaded
        next_generation, state = loaded
        self.load_state_dict(state)
        self.generation = next_generation
        if self.comm.rank == 0:
            self.writer = RunWriter(self.path)
            self.writer.truncate_history(next_generation)

    # ------------------------------------------------------------------ one generation
    def _evaluate_tasks(self, population, n_eval: int) -> np.ndarray:
        """Rows of this rank's tasks, one episode each.

        Tasks ``0 .. n*E-1`` are episode ``t % E`` of member ``t // E`` (``E = rollout.episodes``), so
        a member's episodes are spread over ranks like members are; then come ``n_eval`` noiseless
        episodes of the mean. Returns float64 ``(len(my tasks), layout.width)``.
        """
        c, layout = self.config, self.layout
        n, episodes, g = population.size, c.rollout.episodes, population.generation
        episode_seeds = seeding.derive(c.seed, seeding.EPISODE, g, n * episodes)
        eval_seeds = seeding.derive(c.seed, seeding.EVAL_EPISODE, g, max(n_eval, 1))
        collect = seeding.generator(c.seed, seeding.OBS_SAMPLE, g).random(n) < c.policy.obs_stat_fraction
        mine = members_of(self.comm.rank, self.comm.size, n * episodes + n_eval)
        rows = np.zeros((len(mine), layout.width))
        for row, task in zip(rows, mine):
            if task < n * episodes:
                member, episode = divmod(task, episodes)
                seed = episode_seeds[population.episode_group(member) * episodes + episode]
                result = self.task.evaluate(self.strategy.member_params(population, member), [seed],
                                            self.normalizer, c.policy.action_noise, collect[member], task)
            else:
                result = self.task.evaluate(self.strategy.mean, [eval_seeds[task - n * episodes]],
                                            self.normalizer)
            row[[layout.FITNESS, layout.LENGTH, layout.STEPS]] = result.fitness, result.length, result.steps
            if result.obs_sum is not None:
                row[layout.obs_sum], row[layout.obs_sumsq] = result.obs_sum, result.obs_sumsq
                row[layout.OBS_COUNT] = result.obs_count
            if result.descriptor is not None:
                row[layout.descriptor] = result.descriptor
        return rows

    def step(self) -> tuple[np.void, bool]:
        """Run one generation on every rank; returns (history row, whether the best improved)."""
        c, layout, g = self.config, self.layout, self.generation
        t_start = time.perf_counter()
        evaluate = c.rollout.eval_every > 0 and (g % c.rollout.eval_every == 0 or g == c.generations - 1)
        population = self.strategy.ask()
        obs_mean, obs_std = self.normalizer.mean_std()
        theta = self.strategy.mean.copy()
        n_eval = c.rollout.eval_episodes if evaluate else 0
        n_member_tasks = population.size * c.rollout.episodes
        local = self._evaluate_tasks(population, n_eval)
        t_rollout = time.perf_counter()

        self.comm.bytes_sent = 0
        rows = self.comm.allgather_rows(local, n_member_tasks + n_eval)
        t_gather = time.perf_counter()

        episodes = rows[:n_member_tasks]
        fitness = episodes[:, layout.FITNESS].reshape(population.size, c.rollout.episodes).mean(axis=1)
        if layout.descriptor_dim:
            descriptors = episodes[:, layout.descriptor].reshape(
                population.size, c.rollout.episodes, layout.descriptor_dim).mean(axis=1)
            info = self.strategy.tell(population, fitness, descriptors)
        else:
            info = self.strategy.tell(population, fitness)
        if layout.obs_dim:
            self.normalizer.add(episodes[:, layout.obs_sum].sum(axis=0),
                                episodes[:, layout.obs_sumsq].sum(axis=0),
                                episodes[:, layout.OBS_COUNT].sum())
        steps = int(rows[:, layout.STEPS].sum())
        self.env_steps += steps
        eval_return = float(rows[n_member_tasks:, layout.FITNESS].mean()) if n_eval else np.nan
        improved = bool(n_eval) and eval_return > float(self.best["fitness"])
        if improved:
            self.best = {"params": theta, "fitness": np.asarray(eval_return),
                         "generation": np.asarray(g, dtype=np.int64), "obs_mean": obs_mean,
                         "obs_std": obs_std}
        t_update = time.perf_counter()

        valid = fitness[~np.isnan(fitness)]
        failed_fraction = 1.0 - valid.size / fitness.size
        if failed_fraction > c.rollout.max_failed_fraction:  # the same verdict on every rank
            raise RunAborted(
                f"generation {g}: {fitness.size - valid.size} of {fitness.size} members failed "
                f"({failed_fraction:.0%} > rollout.max_failed_fraction = {c.rollout.max_failed_fraction:.0%}); "
                f"see the [rank N] warnings above")
        row = np.zeros((), dtype=HISTORY_DTYPE)
        row["generation"], row["env_steps"], row["failed"] = g, self.env_steps, fitness.size - valid.size
        if valid.size:
            row["fitness_mean"], row["fitness_max"] = valid.mean(), valid.max()
            row["fitness_min"], row["fitness_std"] = valid.min(), valid.std()
        else:
            row["fitness_mean"] = row["fitness_max"] = row["fitness_min"] = row["fitness_std"] = np.nan
        row["eval_return"], row["sigma"], row["update_norm"] = eval_return, info["sigma"], info["update_norm"]
        row["archive_filled"] = info.get("archive_filled", -1)
        row["qd_score"] = info.get("qd_score", np.nan)
        row["rollout_seconds"] = t_rollout - t_start
        row["gather_seconds"] = t_gather - t_rollout
        row["update_seconds"] = t_update - t_gather
        self.generation += 1
        self._steps_per_second = steps / max(t_update - t_start, 1e-9)
        return row, improved

    # ------------------------------------------------------------------ the loop
    def _on_signal(self, signum, frame):
        self._signalled = True

    def run(self, stop_after: int | None = None) -> RunOutcome:
        """Run generations until the budget, ``stop_after`` more generations, or a stop signal."""
        c = self.config
        previous = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}
        if self.writer is not None:
            self.writer.set_attrs(status="running", ranks=self.comm.size, end_time="")
        t0 = time.perf_counter()
        done_here, io_seconds, status = 0, 0.0, "finished"
        try:
            while self.generation < c.generations:
                row, improved = self.step()
                done_here += 1
                stop = self.comm.any(self._signalled)
                row["bytes_sent_per_rank"] = self.comm.bytes_sent
                if stop or (stop_after is not None and done_here >= stop_after):
                    status = "preempted" if self.generation < c.generations else "finished"
                every = c.output.checkpoint_every
                checkpoint = (status != "finished" or self.generation == c.generations
                              or (every and self.generation % every == 0))
                row["wall_time"] = time.perf_counter() - t0
                row["io_seconds"] = io_seconds
                if self.writer is not None:
                    t_io = time.perf_counter()
                    self._write(row, checkpoint, improved)
                    io_seconds = time.perf_counter() - t_io
                    self.log(self._progress_line(row, io_seconds))
                if status == "preempted":
                    break
            if self.writer is not None:
                self.writer.finish(status)
        except BaseException:
            if self.writer is not None:  # leave a truthful status if this rank can still write
                with contextlib.suppress(Exception):
                    self.writer.finish("failed")
            raise
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        return RunOutcome(status, self.generation, self.path)

    def _write(self, row, checkpoint: bool, improved: bool) -> None:
        """Rank 0: append the generation's row, with a checkpoint and the new best when due."""
        state = dict(self.state_dict(), next_generation=self.generation) if checkpoint else None
        archive = getattr(self.strategy, "archive", None)
        self.writer.write_generation(row, state, self.best if improved else None,
                                     archive.state if archive else None)

    def describe(self) -> str:
        """The first line a run prints."""
        return (f"mpies {self.config.algorithm} on {self.config.env}: {self.task.num_params} parameters, "
                f"population {self.strategy.population_size}, {self.comm.size} rank(s) -> {self.path}")

    def _progress_line(self, row, io_seconds: float) -> str:
        c = self.config
        ev = f"{row['eval_return']:9.2f}" if not np.isnan(row["eval_return"]) else "        -"
        failed = f" | {row['failed']} failed" if row["failed"] else ""
        width = len(str(c.generations))
        return (f"gen {row['generation'] + 1:>{width}}/{c.generations} | fit mean {row['fitness_mean']:9.2f}"
                f" max {row['fitness_max']:9.2f} | eval {ev} | {self._steps_per_second / 1e3:7.1f}k steps/s"
                f" | roll {row['rollout_seconds']:.2f}s gath {row['gather_seconds']:.3f}s"
                f" upd {row['update_seconds']:.3f}s io {io_seconds:.3f}s{failed}")

    def close(self) -> None:
        self.task.close()
        self.comm.close()
