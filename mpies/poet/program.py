"""POET's program (Algorithm 2 of Wang et al. 2019) over MPI rank subgroups.

Every rank holds the whole :class:`mpies.poet.pairs.PairTable` and runs the same deterministic
iteration; only per-member returns cross the network. One iteration ``t``::

    mutate    (t > 0, t % N_mutate == 0) children of pairs with score >= repro_threshold; MC on
              the parent's agent; novelty vs the archive; targeted transfer; oldest pairs retired
    ES_STEP   the ranks are split (comm.Split) into groups; group g evaluates the populations of
              its pairs (and each pair's current theta) over its own ranks and gathers them
              inside the group; then the group leaders' rows are gathered by every rank, which
              applies every pair's OpenAI-ES update to its own copy
    transfer  (M > 1, t % N_transfer == 0) every agent on every other terrain, directly and after
              one proposal ES step with the target's optimiser; the best replaces the incumbent
              if it scores higher (Adam moments reset)

Episodes on a terrain are deterministic: the reset seed is the terrain's seed, as in POET, so a
score is one rollout. One-off evaluations (transfers, minimal criterion) are dealt over all ranks.
The driver (:mod:`mpies.driver`) owns the file, signals and checkpoints.
"""

from __future__ import annotations

import time

import numpy as np

from .. import memory, seeding
from ..comm import Comm
from ..envs.bipedal_terrain import BipedalTerrain, TerrainParams
from ..io import poet_tables
from ..noise import make_noise
from ..program import BEST_DOCS, Program, StepResult, fitness_fields
from ..tasks.bipedal_terrain import TerrainEvaluator
from . import terrains
from .groups import assign_groups
from .pairs import PROPOSAL, PairTable


class POETProgram(Program):
    """A POET run of ``config`` (``algorithm = "poet"``); construct on every rank."""

    family = "poet"
    unit = "iter"
    has_checkpoint_tables = True

    def __init__(self, config, comm: Comm, log=print):
        self.config, self.comm, self.log = config, comm, log
        self.poet = config.strategy
        self.task = TerrainEvaluator(config.policy.hidden,
                                     config.rollout.max_steps or BipedalTerrain.MAX_EPISODE_STEPS)
        self.num_params = self.task.num_params
        memory.require(config, comm, self.task, 2)  # rows of (return, steps); before anything big
        self.noise = make_noise(config.noise.mode, config.seed, self.num_params, config.noise.table_size, comm)
        self.pairs = PairTable(self.poet.max_pairs + self.poet.max_admitted, self.num_params, self.poet)
        theta0 = self.task.policy.initial_params(seeding.generator(config.seed, seeding.INIT_PARAMS),
                                                 config.policy.init_scale)
        first_seed = self.poet.initial_terrain_seed
        if first_seed < 0:
            first_seed = int(seeding.derive(config.seed, seeding.POET_INIT, 0, 1)[0] % 2**31)
        self.pairs.add(TerrainParams.from_vector(self.poet.initial_terrain), first_seed, theta0, 0)
        self.events: list[tuple] = []  # this iteration's rows of /poet/events and /poet/scores
        self.scores: list[tuple] = []
        self._event("created", 0, self.pairs.slots()[0])
        self._best = {"params": theta0, "fitness": np.asarray(-np.inf),
                      "generation": np.asarray(-1, dtype=np.int64),
                      "obs_mean": np.zeros(self.task.obs_dim), "obs_std": np.ones(self.task.obs_dim)}
        self.env_steps = 0
        self._schedule = (config.rollout.schedule == "dynamic", config.rollout.chunk)
        """``Comm.evaluate``'s (dynamic, chunk) for every evaluation of the run."""
        self._group: Comm | None = None
        self._group_slots: tuple | None = None

    def describe(self) -> str:
        p = self.poet
        return (f"mpies poet on BipedalWalker terrains: {self.num_params} parameters per agent, "
                f"population {p.population} per pair, up to {p.max_pairs} pairs, {self.comm.size} rank(s)")

    # ------------------------------------------------------------------ state and tables
    def state_dict(self) -> dict[str, np.ndarray]:
        state = {f"poet/{k}": v for k, v in self.pairs.state_dict().items()}
        state.update({f"best/{k}": np.array(v) for k, v in self._best.items()})
        state["counters/env_steps"] = np.asarray(self.env_steps, dtype=np.int64)
        state["mean"] = np.array(self._best["params"])
        return state

    def docs(self) -> dict[str, tuple[str, str]]:
        docs = {f"poet/{k}": (doc, "1") for k, doc in self.pairs.docs().items()}
        docs.update(BEST_DOCS)
        docs["counters/env_steps"] = ("environment steps so far, transfers and evaluations included", "steps")
        docs["mean"] = ("the policy `mpies eval --which final` plays: the best pair's agent, float64 "
                        "(num_params,)", "1")
        return docs

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.pairs.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("poet/")})
        self._best = {k[5:]: np.array(v) for k, v in state.items() if k.startswith("best/")}
        self.env_steps = int(state["counters/env_steps"])
        self.events, self.scores = [], []

    def best(self) -> dict[str, np.ndarray]:
        return dict(self._best)

    def create_tables(self, f) -> None:
        poet_tables.create(f)

    def append_tables(self, f) -> None:
        poet_tables.append(f, self.events, self.scores)

    def checkpoint_tables(self, f) -> None:
        poet_tables.write_pairs(f, self.pairs)

    def truncate_tables(self, f, generations: int) -> None:
        poet_tables.truncate(f, generations)

    # ------------------------------------------------------------------ evaluation helpers
    def _evaluate_everywhere(self, jobs: list[tuple[np.ndarray, np.ndarray, int]]) -> np.ndarray:
        """Returns of one-off ``(params, terrain vector (5,), terrain seed)`` jobs dealt over all
        ranks, in job order: float64 ``(len(jobs), 2)`` rows of (return, steps)."""
        rows = self.comm.evaluate(len(jobs), 2, lambda j: np.asarray(self.task.episode(*jobs[j]), dtype=np.float64),
                                  *self._schedule)
        self.env_steps += int(rows[:, 1].sum())
        return rows

    def _terrain_of(self, slot: int) -> tuple[np.ndarray, int]:
        s = self.pairs.state
        return s["terrain"][slot], int(s["terrain_seed"][slot])

    def _event(self, kind: str, iteration: int, slot: int, source: int = -1, parent: int = -1,
               score: float = np.nan) -> None:
        terrain, seed = self._terrain_of(slot)
        self.events.append((iteration, kind, self.pairs.pair_id(slot), source, parent, score, terrain, seed))

    # ------------------------------------------------------------------ Algorithm 2, line 5-6
    def _mutate(self, t: int) -> int:
        """New environments by mutation; returns how many were admitted."""
        p, pairs = self.poet, self.pairs
        slots = pairs.slots()
        eligible = [s for s in slots if pairs.state["score"][s] >= p.repro_threshold]
        if not eligible:
            return 0
        rng = seeding.generator(self.config.seed, seeding.POET_MUTATION, t)
        active = {pairs.terrain(s) for s in slots}
        children = []  # (parent slot, terrain, seed)
        for _ in range(p.max_children):
            parent = eligible[int(rng.integers(len(eligible)))]
            child = terrains.mutate(pairs.terrain(parent), p, rng)
            seed = int(rng.integers(2**31))
            if child not in active:
                children.append((parent, child, seed))
        # minimal criterion on the parent's agent
        mc = self._evaluate_everywhere([(pairs.theta(parent), child.vector(), seed)
                                        for parent, child, seed in children])[:, 0]
        passing = [(c, terrains.novelty(c[1].vector(), pairs.archive(), p.novelty_k))
                   for c, score in zip(children, mc) if p.mc_lower <= score <= p.mc_upper]
        passing.sort(key=lambda item: -item[1])  # most novel first; stable on ties
        # targeted transfer: every active agent on every passing child, the best agent comes along
        jobs = [(pairs.theta(s), c[1].vector(), c[2]) for c, _ in passing for s in slots]
        scores = self._evaluate_everywhere(jobs)[:, 0].reshape(len(passing), len(slots))
        admitted = 0
        for ((parent, child, seed), _), row in zip(passing, scores):
            best = int(np.argmax(row))  # first (oldest) agent on ties
            if admitted < p.max_admitted and p.mc_lower <= row[best] <= p.mc_upper:
                pairs.add(child, seed, pairs.theta(slots[best]).copy(), t + 1, parent_id=pairs.pair_id(parent))
                new_slot = pairs.slots()[-1]
                pairs.state["score"][new_slot] = row[best]
                self._event("created", t + 1, new_slot, source=pairs.pair_id(slots[best]),
                            parent=pairs.pair_id(parent), score=float(row[best]))
                admitted += 1
        while len(pairs.slots()) > p.max_pairs:
            oldest = pairs.slots()[0]
            pairs.remove(oldest)
            self._event("removed", t + 1, oldest)
        return admitted

    # ------------------------------------------------------------------ Algorithm 2, line 9-12
    def _groups(self, slots: list[int], t: int) -> tuple[Comm, list[int], list[int]]:
        """This rank's subgroup and the slots of every group; rebuilt when the pairs change."""
        group_of_rank, group_of_pair = assign_groups(self.comm.size, len(slots))
        if self._group_slots != tuple(slots):
            if self._group is not None:
                self._group.free()
            self._group = self.comm.split(group_of_rank[self.comm.rank], self.comm.rank)
            self._group_slots = tuple(slots)
            layout = []
            for g in range(max(group_of_rank) + 1):
                ranks = [r for r, rg in enumerate(group_of_rank) if rg == g]
                ids = [str(self.pairs.pair_id(s)) for s, pg in zip(slots, group_of_pair) if pg == g]
                layout.append(f"pairs {','.join(ids)} on ranks {ranks[0]}-{ranks[-1]}")
            self.log(f"subgroups (iteration {t}, {self._group.size} rank(s) in this one): " + "; ".join(layout))
        return self._group, group_of_rank, group_of_pair

    def _es_steps(self, t: int) -> np.ndarray:
        """One ES step of every pair; returns all members' returns, float64 ``(M, n)``."""
        pairs, n = self.pairs, self.poet.population
        slots = pairs.slots()
        group, group_of_rank, group_of_pair = self._groups(slots, t)
        my_group = group_of_rank[self.comm.rank]
        strategies = {s: pairs.strategy(s, self.noise) for s in slots}
        populations = {s: strategies[s].ask() for s in slots}
        mine = [s for s, g in zip(slots, group_of_pair) if g == my_group]
        count = len(mine) * (n + 1)  # each pair: n members, then its current theta

        def row_of(task: int) -> np.ndarray:
            k, member = divmod(task, n + 1)
            es, slot = strategies[mine[k]], mine[k]
            params = es.member_params(populations[slot], member) if member < n else es.mean
            return np.asarray(self.task.episode(params, *self._terrain_of(slot)), dtype=np.float64)
        group_rows = group.evaluate(count, 2, row_of, *self._schedule)  # the group's ES step, inside the group
        leader = group.rank == 0
        shared = self.comm.allgather_varying(group_rows if leader else np.zeros((0, 2)), 2)
        # leaders contribute in rank order = group order; group g's block lists its pairs in order
        order = [s for g in range(max(group_of_rank) + 1) for s, pg in zip(slots, group_of_pair) if pg == g]
        blocks = {s: shared[i * (n + 1):(i + 1) * (n + 1)] for i, s in enumerate(order)}
        returns = np.empty((len(slots), n))
        for i, s in enumerate(slots):
            strategies[s].tell(populations[s], blocks[s][:n, 0])
            pairs.stepped(s)
            pairs.state["score"][s] = blocks[s][n, 0]  # of theta before this step
            returns[i] = blocks[s][:n, 0]
            self.scores.append((t + 1, pairs.pair_id(s), float(blocks[s][n, 0]), float(blocks[s][:n, 0].max()),
                                pairs.sigma(s)))
        self.env_steps += int(shared[:, 1].sum())
        return returns

    # ------------------------------------------------------------------ Algorithm 2, line 13-19
    def _transfer(self, t: int) -> int:
        """Direct and proposal transfers into every pair; returns how many were accepted."""
        pairs, n = self.pairs, self.poet.population
        slots = pairs.slots()
        routes = [(target, source) for target in slots for source in slots if source != target]
        proposals = {}
        for target, source in routes:
            es = pairs.strategy(target, self.noise, theta=pairs.theta(source),
                                salt=(PROPOSAL, pairs.pair_id(target), pairs.pair_id(source), t))
            proposals[target, source] = (es, es.ask())
        jobs = [(pairs.theta(s), *self._terrain_of(s)) for s in slots]                    # incumbents
        jobs += [(pairs.theta(source), *self._terrain_of(target)) for target, source in routes]
        for target, source in routes:
            es, population = proposals[target, source]
            jobs += [(es.member_params(population, i), *self._terrain_of(target)) for i in range(n)]
        rows = self._evaluate_everywhere(jobs)[:, 0]
        incumbent = dict(zip(slots, rows[:len(slots)]))
        direct = dict(zip(routes, rows[len(slots):len(slots) + len(routes)]))
        member_returns = rows[len(slots) + len(routes):].reshape(len(routes), n)
        for route, returns in zip(routes, member_returns):
            es, population = proposals[route]
            es.tell(population, returns)
        proposed = self._evaluate_everywhere(
            [(proposals[(target, source)][0].mean, *self._terrain_of(target)) for target, source in routes])[:, 0]
        accepted, pending = 0, {}
        for target in slots:
            pairs.state["score"][target] = incumbent[target]
            candidates = [(direct[r], r[1], "direct", pairs.theta(r[1])) for r in routes if r[0] == target]
            candidates += [(score, r[1], "proposal", proposals[r][0].mean)
                           for r, score in zip(routes, proposed) if r[0] == target]
            best = max(range(len(candidates)), key=lambda i: (candidates[i][0], -i))
            score, source, kind, theta = candidates[best]
            if score > incumbent[target]:
                pending[target] = theta.copy()
                pairs.state["score"][target] = score
                self._event(f"transfer_{kind}", t + 1, target, source=pairs.pair_id(source), score=float(score))
                accepted += 1
        for target, theta in pending.items():  # applied after all choices: every target saw the same agents
            pairs.replace_agent(target, theta)
        return accepted

    # ------------------------------------------------------------------ one iteration
    def step(self, generation: int) -> StepResult:
        t, p = generation, self.poet
        t_start = time.perf_counter()
        if t > 0:  # iteration 0 also writes the first pair's creation
            self.events, self.scores = [], []
        steps_before, events_before = self.env_steps, len(self.events)
        created = self._mutate(t) if t > 0 and t % p.mutate_every == 0 else 0
        returns = self._es_steps(t)
        t_gather = time.perf_counter()
        accepted = self._transfer(t) if len(self.pairs.slots()) > 1 and t % p.transfer_every == 0 else 0
        slots = self.pairs.slots()
        scores = self.pairs.state["score"][slots]
        top = int(np.argmax(scores))
        best = None
        if scores[top] > float(self._best["fitness"]):
            self._best = best = dict(self._best, params=self.pairs.theta(slots[top]).copy(),
                                     fitness=np.asarray(scores[top]), generation=np.asarray(t + 1, dtype=np.int64))
        self.task.keep_only({(*self._terrain_of(s)[0].tolist(), self._terrain_of(s)[1]) for s in slots})
        t_end = time.perf_counter()
        fields = {**fitness_fields(returns.ravel()), "env_steps": self.env_steps,
                  "active_pairs": len(slots), "score_max": float(scores.max()), "pairs_created": created,
                  "transfers_accepted": accepted, "sigma_mean": float(np.mean([self.pairs.sigma(s) for s in slots])),
                  "rollout_seconds": t_gather - t_start, "gather_seconds": 0.0, "update_seconds": t_end - t_gather}
        pair_scores = " ".join(f"{self.pairs.pair_id(s)}:{self.pairs.state['score'][s]:.0f}" for s in slots)
        changes = "".join(f" | {kind} {pair_id}" for _, kind, pair_id, *_ in self.events[events_before:]
                          if not kind.startswith("transfer"))
        progress = f"scores {pair_scores} | pairs {len(slots)} | transfers {accepted}{changes}"
        return StepResult(fields, best, progress, self.env_steps - steps_before)

    def close(self) -> None:
        if self._group is not None:
            self._group.free()
            self._group = None
        self.task.close()
