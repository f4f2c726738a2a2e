"""The search-distribution program: ask / evaluate / gather / tell over any registered strategy.

Every rank runs the same generation (DESIGN.md)::

    ask     population = strategy.ask()            same keys on every rank, no communication
    eval    this rank's tasks t = r, r+p, ...      member episodes, then noiseless episodes of the mean
    gather  Allgatherv of one float64 row per task: fitness, length, steps, observation sums, descriptor
    tell    strategy.tell(fitness, descriptors)    identical on every rank

Task ``t < n * E`` is episode ``t % E`` of member ``t // E`` (``E = rollout.episodes``), so a
member's episodes are spread over ranks like members are; then come the evaluation episodes.
"""

from __future__ import annotations

import time

import numpy as np

from . import memory, registry, seeding
from .comm import Comm
from .config import ConfigError, RunConfig, echo
from .errors import RunAborted
from .io.writer import create_group, overwrite_group
from .noise import make_noise
from .policies import ObsNormalizer
from .program import BEST_DOCS, Program, StepResult, fitness_fields
from .tasks import make_task

ARCHIVE_GROUP = "archive"


class _RowLayout:
    """Columns of the per-task row gathered each generation: 4 scalars, then observation sums
    (policy tasks with normalisation) and the behaviour descriptor (quality-diversity tasks)."""

    FITNESS, LENGTH, STEPS, OBS_COUNT = range(4)

    def __init__(self, obs_dim: int, descriptor_dim: int = 0):
        self.obs_dim, self.descriptor_dim = obs_dim, descriptor_dim
        self.obs_sum = slice(4, 4 + obs_dim)
        self.obs_sumsq = slice(4 + obs_dim, 4 + 2 * obs_dim)
        self.descriptor = slice(4 + 2 * obs_dim, 4 + 2 * obs_dim + descriptor_dim)
        self.width = 4 + 2 * obs_dim + descriptor_dim


class SearchProgram(Program):
    """A run of a registered strategy on a task; construct on every rank of ``comm``."""

    def __init__(self, config: RunConfig, comm: Comm, log=print):
        self.config, self.comm, self.log = config, comm, log
        self.task = make_task(config, comm.rank)
        self.num_params = self.task.num_params
        self.layout = _RowLayout(self.task.obs_dim, self.task.descriptor_dim)
        memory.require(config, comm, self.task, self.layout.width)  # before anything big is allocated
        theta0 = self.task.initial_params(seeding.generator(config.seed, seeding.INIT_PARAMS))
        self.noise = make_noise(config.noise.mode, config.seed, self.num_params, config.noise.table_size, comm)
        self.strategy = registry.get(config.algorithm).strategy(config.strategy, theta0, self.noise)
        self.family = self.strategy.family
        if self.strategy.population_size < comm.size:
            raise ConfigError(
                f"{config.strategy.population_field}: got a population of {self.strategy.population_size}; must be >= "
                f"the number of ranks ({comm.size}) so that every rank evaluates a member")
        if self.strategy.uses_descriptors and not self.task.descriptor_dim:
            raise ConfigError(f"algorithm: {config.algorithm} needs behaviour descriptors, which env "
                              f"{echo(config.env)} does not provide; use a quality-diversity task (e.g. arm)")
        if self.strategy.uses_descriptors and self.strategy.descriptor_dims != self.task.descriptor_dim:
            raise ConfigError(f"strategy.lower: got {self.strategy.descriptor_dims} descriptor dimension(s); env "
                              f"{echo(config.env)} has {self.task.descriptor_dim}: give lower, upper (and bins) "
                              f"one entry each")
        self.evaluates = config.rollout.eval_every > 0
        self.normalizer = ObsNormalizer(self.task.obs_dim)
        mean, std = self.normalizer.mean_std()
        self._best = {"params": np.zeros_like(theta0), "fitness": np.asarray(-np.inf),
                      "generation": np.asarray(-1, dtype=np.int64), "obs_mean": mean, "obs_std": std}
        self.env_steps = 0

    def describe(self) -> str:
        c = self.config
        return (f"mpies {c.algorithm} on {c.env}: {self.num_params} parameters, population "
                f"{self.strategy.population_size}, {self.comm.size} rank(s)")

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        state = {f"strategy/{k}": v for k, v in self.strategy.state_dict().items()}
        state.update({f"normalizer/{k}": np.array(v) for k, v in self.normalizer.state.items()})
        state.update({f"best/{k}": np.array(v) for k, v in self._best.items()})
        state["counters/env_steps"] = np.asarray(self.env_steps, dtype=np.int64)
        state["mean"] = np.array(self.strategy.mean)  # what `mpies eval --which final` plays
        return state

    def docs(self) -> dict[str, tuple[str, str]]:
        docs = {f"strategy/{k}": (doc, "1") for k, doc in self.strategy.state.docs().items()}
        docs.update({f"normalizer/{k}": v for k, v in ObsNormalizer.DOCS.items()})
        docs.update(BEST_DOCS)
        docs["counters/env_steps"] = ("environment steps so far, evaluations included", "steps")
        docs["mean"] = ("the policy `mpies eval --which final` plays: the search distribution's mean "
                        "(MAP-Elites: the best elite), float64 (num_params,)", "1")
        return docs

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        def sub(prefix):
            return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        self.strategy.load_state_dict(sub("strategy/"))
        self.normalizer.state = {k: np.array(v) for k, v in sub("normalizer/").items()}
        self._best = {k: np.array(v) for k, v in sub("best/").items()}
        self.env_steps = int(state["counters/env_steps"])

    def best(self) -> dict[str, np.ndarray]:
        return dict(self._best)

    # ------------------------------------------------------------------ tables
    def create_tables(self, f) -> None:
        archive = self.strategy.archive
        if archive is not None:
            docs = {k: (doc, "1") for k, doc in self.strategy.state.docs().items()}
            docs.update(archive.GEOMETRY_DOCS)
            create_group(f, ARCHIVE_GROUP, archive.state, archive.geometry(), docs)

    def append_tables(self, f) -> None:
        if self.strategy.archive is not None:
            overwrite_group(f, ARCHIVE_GROUP, self.strategy.archive.state)

    # ------------------------------------------------------------------ one generation
    def _evaluate_tasks(self, population, n_eval: int) -> np.ndarray:
        """Rows of every task of the generation (member episodes, then evaluation episodes),
        float64 ``(n * episodes + n_eval, layout.width)``, dealt over the ranks by
        ``rollout.schedule``."""
        c, layout = self.config, self.layout
        n, episodes, g = population.size, c.rollout.episodes, population.generation
        episode_seeds = seeding.derive(c.seed, seeding.EPISODE, g, n * episodes)
        eval_seeds = seeding.derive(c.seed, seeding.EVAL_EPISODE, g, max(n_eval, 1))
        collect = seeding.generator(c.seed, seeding.OBS_SAMPLE, g).random(n) < c.policy.obs_stat_fraction

        def row_of(task: int) -> np.ndarray:
            row = np.zeros(layout.width)
            if task < n * episodes:
                member, episode = divmod(task, episodes)
                seed = episode_seeds[population.episode_group(member) * episodes + episode]
                result = self.task.evaluate(self.strategy.member_params(population, member), [seed],
                                            self.normalizer, c.policy.action_noise, collect[member], task,
                                            c.rollout.reward_shift)
            else:
                result = self.task.evaluate(self.strategy.mean, [eval_seeds[task - n * episodes]],
                                            self.normalizer)
            row[[layout.FITNESS, layout.LENGTH, layout.STEPS]] = result.fitness, result.length, result.steps
            if result.obs_sum is not None:
                row[layout.obs_sum], row[layout.obs_sumsq] = result.obs_sum, result.obs_sumsq
                row[layout.OBS_COUNT] = result.obs_count
            if result.descriptor is not None:
                row[layout.descriptor] = result.descriptor
            return row
        return self.comm.evaluate(n * episodes + n_eval, layout.width, row_of,
                                  c.rollout.schedule == "dynamic", c.rollout.chunk)

    def step(self, generation: int) -> StepResult:
        c, layout, g = self.config, self.layout, generation
        t_start = time.perf_counter()
        evaluate = c.rollout.eval_every > 0 and (g % c.rollout.eval_every == 0 or g == c.generations - 1)
        population = self.strategy.ask()
        obs_mean, obs_std = self.normalizer.mean_std()
        theta = self.strategy.mean.copy()
        n_eval = c.rollout.eval_episodes if evaluate else 0
        n_member_tasks = population.size * c.rollout.episodes
        rows = self._evaluate_tasks(population, n_eval)
        t_gather = time.perf_counter()
        t_rollout = t_gather - self.comm.gather_seconds

        episodes = rows[:n_member_tasks]
        fitness = episodes[:, layout.FITNESS].reshape(population.size, c.rollout.episodes).mean(axis=1)
        descriptors = None
        if layout.descriptor_dim:
            descriptors = episodes[:, layout.descriptor].reshape(
                population.size, c.rollout.episodes, layout.descriptor_dim).mean(axis=1)
        failed = int(np.isnan(fitness).sum())
        if failed / fitness.size > c.rollout.max_failed_fraction:  # the same verdict on every rank
            raise RunAborted(
                f"generation {g + 1}: {failed} of {fitness.size} members failed "
                f"({failed / fitness.size:.0%} > rollout.max_failed_fraction = "
                f"{c.rollout.max_failed_fraction:.0%}); see the [rank N] warnings above")
        info = self.strategy.tell(population, fitness, descriptors)
        if layout.obs_dim:
            self.normalizer.add(episodes[:, layout.obs_sum].sum(axis=0),
                                episodes[:, layout.obs_sumsq].sum(axis=0),
                                episodes[:, layout.OBS_COUNT].sum())
        steps = int(rows[:, layout.STEPS].sum())
        self.env_steps += steps
        eval_return = float(rows[n_member_tasks:, layout.FITNESS].mean()) if n_eval else np.nan
        best = None
        if n_eval and eval_return > float(self._best["fitness"]):
            self._best = best = {"params": theta, "fitness": np.asarray(eval_return),
                                 "generation": np.asarray(g + 1, dtype=np.int64), "obs_mean": obs_mean,
                                 "obs_std": obs_std}
        t_update = time.perf_counter()

        fields = {**fitness_fields(fitness), **info, "eval_return": eval_return, "env_steps": self.env_steps,
                  "rollout_seconds": t_rollout - t_start, "gather_seconds": t_gather - t_rollout,
                  "update_seconds": t_update - t_gather}
        return StepResult(fields, best, self._progress(fields), steps)

    def _progress(self, fields: dict) -> str:
        """``fit mean M max X`` then, for quality diversity, the archive's coverage and QD score
        (and the evaluation only in generations that ran one), else ``eval E`` (``-`` when not run)."""
        evaluated = not np.isnan(fields["eval_return"])
        failed = f" | {fields['failed']} failed" if fields["failed"] else ""
        line = f"fit mean {fields['fitness_mean']:9.2f} max {fields['fitness_max']:9.2f}"
        if self.family in ("qd", "qd_emitters"):
            cells = self.strategy.archive.cells
            line += (f" | cells {fields['archive_filled']}/{cells} ({fields['archive_filled'] / cells:.1%})"
                     f" qd {fields['qd_score']:.4g}")
            if "emitter_restarts" in fields:
                line += f" | restarts {fields['emitter_restarts']} sigma {fields['sigma_mean']:.3g}"
            return line + (f" | eval {fields['eval_return']:.2f}" if evaluated else "") + failed
        ev = f"{fields['eval_return']:9.2f}" if evaluated else "        -"
        return f"{line} | eval {ev}{failed}"

    def close(self) -> None:
        self.task.close()
