#!/usr/bin/env python
"""Static vs dynamic dealing of episodes to ranks (``rollout.schedule``): idle time measured on
this machine, and predicted for 64 to 1,024 ranks by replaying measured episode times.

What is measured
    1. Real jobs: for each env of ``--envs`` (BipedalWalker-v3: a random walker falls after ~50
       steps or stands for 1,600; Hopper-v5: falls early or hops 1,000 steps) and each rank count
       of ``--ranks`` (more than the cores oversubscribe them: correct, not fast), ``mpiexec -n R
       python -m mpies run cartpole --set env=ENV ...`` (OpenAI-ES, 40x40 tanh MLP, population
       ``--population``, ``--generations`` generations, no evaluation) once with ``schedule =
       static`` and once ``dynamic`` (``chunk`` 1). From ``/history``: rank 0's idle fraction =
       sum(gather_seconds) / sum(rollout_seconds + gather_seconds) (its wait in the gather for the
       slowest rank), env steps/s = env_steps / wall_time, both over generations 2..N (the first
       is warm-up). Both schedules give bitwise the same run (the test suite checks it), so their
       steps are the same and only time differs.
    2. Episode times: ``--samples`` member episodes of the same config played in this process,
       each timed with ``time.perf_counter`` (float seconds).
    3. Prediction (:func:`simulate`): generations of ``tasks per rank x P`` episodes whose times
       are drawn (with replacement, seeded) from those samples; static = round-robin, a rank's
       time is the sum of its episodes; dynamic = each free rank claims the next ``chunk``
       episodes, paying ``--claim-seconds`` per claim (a remote atomic). The generation lasts as
       long as its busiest rank; the idle fraction is 1 - (sum of episode times) / (P x that).
       Gather and update time are left out (microseconds to milliseconds: see bench_scaling.py).

Reproduce
    python scripts/bench_balance.py                       # both envs, 2 / 4 / 8 ranks (~10 min on 2 cores)
    python scripts/bench_balance.py --quick               # a smoke run (CartPole, seconds)

Output: tables on stdout, JSON in bench-results/bench_balance.json (``--out``).
"""

from __future__ import annotations

import argparse
import heapq
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402  (sets BLAS thread variables before numpy loads)

import h5py  # noqa: E402
import numpy as np  # noqa: E402

NAME = "bench_balance"
SCHEDULES = ("static", "dynamic")
PREDICTED_RANKS = (64, 128, 256, 512, 1024)


# --------------------------------------------------------------------------- the model
def static_makespan(times: np.ndarray, ranks: int) -> float:
    """Seconds of a generation whose tasks (float ``(n,)`` seconds) are dealt round-robin."""
    return float(max(times[r::ranks].sum() for r in range(ranks)))


def dynamic_makespan(times: np.ndarray, ranks: int, chunk: int = 1, claim_seconds: float = 0.0) -> float:
    """Seconds of a generation whose ranks claim ``chunk`` tasks at a time in task order, each claim
    costing ``claim_seconds`` (list scheduling: the next chunk goes to the rank that is free first,
    ties to the lowest rank)."""
    free = [(0.0, r) for r in range(ranks)]
    heapq.heapify(free)
    end = 0.0
    for first in range(0, len(times), chunk):
        at, rank = heapq.heappop(free)
        at += claim_seconds + float(times[first:first + chunk].sum())
        end = max(end, at)
        heapq.heappush(free, (at, rank))
    return end


def simulate(samples: np.ndarray, ranks: int, tasks_per_rank: int, generations: int = 20, chunk: int = 1,
             claim_seconds: float = 0.0, seed: int = 0) -> dict:
    """Mean idle fraction of both schedules over ``generations`` simulated generations.

    Args:
        samples: measured episode times, float ``(k,)`` seconds.
        ranks: P.
        tasks_per_rank: episodes per generation = ``tasks_per_rank * ranks``.

    Returns:
        ``static`` and ``dynamic``: mean of 1 - work / (P x makespan); ``speedup``: mean static
        makespan / mean dynamic makespan.
    """
    rng = np.random.default_rng(seed)
    idle = {s: [] for s in SCHEDULES}
    spans = {s: [] for s in SCHEDULES}
    for _ in range(generations):
        times = rng.choice(samples, size=tasks_per_rank * ranks, replace=True)
        work = float(times.sum())
        for schedule, span in (("static", static_makespan(times, ranks)),
                               ("dynamic", dynamic_makespan(times, ranks, chunk, claim_seconds))):
            idle[schedule].append(1.0 - work / (ranks * span))
            spans[schedule].append(span)
    return {"static": float(np.mean(idle["static"])), "dynamic": float(np.mean(idle["dynamic"])),
            "speedup": float(np.mean(spans["static"]) / np.mean(spans["dynamic"]))}


# --------------------------------------------------------------------------- measurements
def overrides(env: str, args) -> list[str]:
    return [f"env={env}", "policy.kind=mlp", "policy.hidden=[40, 40]", f"strategy.population={args.population}",
            f"generations={args.generations}", "rollout.eval_every=0", "noise.table_size=1000000",
            "output.checkpoint_every=0"]


def measure_run(env: str, ranks: int, schedule: str, args, workdir: Path) -> dict:
    """One ``mpiexec -n ranks mpies run`` with ``schedule``; rank 0's idle fraction and steps/s."""
    out = workdir / f"{env}-{schedule}-n{ranks}.h5"
    command = ["mpiexec", "-n", str(ranks), sys.executable, "-m", "mpies", "run", "cartpole", "-o", str(out),
               "--overwrite"]
    for item in overrides(env, args) + [f"rollout.schedule={schedule}"]:
        command += ["--set", item]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    with h5py.File(out, "r") as f:
        h = f["history"][()][1:]  # generation 1 is warm-up
    rollout, gather = float(h["rollout_seconds"].sum()), float(h["gather_seconds"].sum())
    span = float(h["wall_time"][-1] - h["wall_time"][0]) if h.size > 1 else float("nan")
    steps = float(h["env_steps"][-1] - h["env_steps"][0]) if h.size > 1 else float("nan")
    return {"env": env, "ranks": ranks, "schedule": schedule, "idle_fraction_rank0": gather / (rollout + gather),
            "steps_per_second": steps / span, "generations": int(h.size) + 1,
            "command": " ".join(command[3:])}


def episode_times(env: str, args) -> np.ndarray:
    """Seconds of ``args.samples`` member episodes of the benchmark config, played here."""
    from mpies import config as config_mod, seeding
    from mpies.noise import make_noise
    from mpies.policies import ObsNormalizer
    from mpies.registry import get
    from mpies.tasks import make_task

    cfg = config_mod.load("cartpole", overrides(env, args))
    task = make_task(cfg)
    try:
        theta0 = task.initial_params(seeding.generator(cfg.seed, seeding.INIT_PARAMS))
        strategy = get(cfg.algorithm).strategy(cfg.strategy, theta0, make_noise(cfg.noise.mode, cfg.seed, theta0.size, cfg.noise.table_size))
        population, normalizer = strategy.ask(), ObsNormalizer(task.obs_dim)
        seeds = seeding.derive(cfg.seed, seeding.EPISODE, 0, args.samples)
        times = []
        for i in range(args.samples):
            started = time.perf_counter()
            task.evaluate(strategy.member_params(population, i % population.size), [int(seeds[i])], normalizer)
            times.append(time.perf_counter() - started)
    finally:
        task.close()
    return np.array(times)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--envs", nargs="+", default=["BipedalWalker-v3", "Hopper-v5"])
    p.add_argument("--ranks", nargs="+", type=int, default=[2, 4, 8])
    p.add_argument("--population", type=int, default=96)
    p.add_argument("--generations", type=int, default=5)
    p.add_argument("--samples", type=int, default=192, help="episodes timed per env for the prediction")
    p.add_argument("--tasks-per-rank", nargs="+", type=int, default=[2, 8])
    p.add_argument("--claim-seconds", type=float, default=20e-6, help="cost of one claim in the model")
    p.add_argument("--quick", action="store_true", help="CartPole-v1, 2 ranks, 3 generations")
    common.add_common_options(p, NAME)
    args = p.parse_args(argv)
    if args.quick:
        args.envs, args.ranks, args.generations, args.population, args.samples = ["CartPole-v1"], [2], 3, 8, 16
    if args.wait_quiet:
        common.wait_quiet(args.wait_quiet)

    measured, predicted, samples = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for env in args.envs:
            for ranks in args.ranks:
                for schedule in SCHEDULES:
                    measured.append(measure_run(env, ranks, schedule, args, Path(tmp)))
            times = episode_times(env, args)
            samples[env] = {"mean": float(times.mean()), "max": float(times.max()), "cv": float(times.std() / times.mean())}
            for tasks in args.tasks_per_rank:
                for ranks in PREDICTED_RANKS:
                    predicted.append({"env": env, "ranks": ranks, "tasks_per_rank": tasks,
                                      **simulate(times, ranks, tasks, claim_seconds=args.claim_seconds)})
    print(common.format_table(
        ["env", "ranks", "schedule", "rank 0 idle", "steps/s"],
        [[m["env"], m["ranks"], m["schedule"], f"{m['idle_fraction_rank0']:.1%}", f"{m['steps_per_second']:.0f}"]
         for m in measured], title="measured (ranks beyond the cores oversubscribe them)"))
    print(common.format_table(
        ["env", "ranks", "episodes per rank", "idle static", "idle dynamic", "speedup"],
        [[r["env"], r["ranks"], r["tasks_per_rank"], f"{r['static']:.1%}", f"{r['dynamic']:.1%}",
          f"{r['speedup']:.2f}x"] for r in predicted],
        title=f"predicted from measured episode times (claim {args.claim_seconds * 1e6:.0f} us)"))
    payload = {"measured": measured, "predicted": predicted, "episode_times": samples, "args": vars(args) | {"out": str(args.out)},
               "environment": common.environment()}
    common.write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
