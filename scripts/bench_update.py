#!/usr/bin/env python
"""Per-generation cost of noise and update in OpenAI-ES, noise-table vs generator mode, against
the rollout time of a HalfCheetah generation.

What is measured
    For each noise mode an ``mpies.strategies.OpenAIES`` is built on ``--dim`` parameters with
    ``mpies.strategies.OpenAIESConfig(population=--population)`` (all other strategy settings at
    their mpies defaults: mirrored, centered ranks, Adam, weight decay):

    table       ``mpies.noise.NoiseTable(seed, dim, --table-size)`` with ``comm=None`` (a private
                table; in a run it lives in node shared memory, same reads).
    generator   ``mpies.noise.CounterNoise(seed, dim)``: Philox draws each perturbation afresh.

    Each of ``--generations`` timed generations (after one untimed warm-up generation) measures
    three phases separately, with ``time.perf_counter``:

    ask         ``strategy.ask()`` (derives the perturbation keys).
    fetch       ``strategy.member_params(population, i)`` for every member i: the noise cost of the
                rollout phase, summed over all ranks (each rank pays population/ranks of it).
    tell        ``strategy.tell(population, fitness)`` with random N(0,1) fitness: the gradient
                (weighted sum of the perturbations) and the Adam step; every rank pays all of it.

    Medians over generations are reported in ms per generation.

    Rollout reference: seconds per ``--max-steps``-step ``--env`` episode played with
    ``mpies.rollout.run_episode`` (obs statistics on, as in a default run) by an MLP ``--hidden``
    (mpies initial parameters), median of ``--episodes`` episodes. A generation's rollout time is
    estimated as ``population * episode_seconds / ranks`` (``--ranks``, default 2). Reported:
    update time = table-mode (ask + fetch of all members + tell) as a percentage of that estimate
    (conservative: one rank only fetches population/ranks members; that per-rank share is shown
    too). Target: < 3%. Note that the update is timed at ``--dim`` parameters (default 100k) while
    the [64, 64] HalfCheetah policy itself has ~5.7k: the comparison is of a 100k-parameter update
    against HalfCheetah-length episodes. Speed is never asserted.

Machine load
    Each script samples, from /proc/stat, how many cores other processes keep busy just before and
    during the measurement and prints a WARNING when that is above 0.2 cores: numbers taken next
    to other work (another MPI job, a test suite) are slower and noisier than the code deserves.

Reproduce
    python scripts/bench_update.py                        # population 1024, 100k parameters
    python scripts/bench_update.py --quick                # smoke run, a few seconds
    python scripts/bench_update.py --dim 1000000 --population 256 --generations 3

Output: a table on stdout and JSON in bench-results/bench_update.json (``--out`` to change).
BLAS threads are pinned to 1 (OMP/OPENBLAS/MKL_NUM_THREADS), as the ``mpies`` CLI does.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402  (sets BLAS thread variables before numpy loads)

import numpy as np  # noqa: E402

NAME = "bench_update"
PHASES = ("ask", "fetch", "tell")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                epilog="See the module docstring (top of this file) for the method.")
    p.add_argument("--dim", type=int, default=100_000, help="number of policy parameters")
    p.add_argument("--population", type=int, default=1024, help="members per generation (even)")
    p.add_argument("--table-size", type=int, default=2**25, help="float32 entries of the noise table")
    p.add_argument("--generations", type=int, default=5, help="timed generations per noise mode")
    p.add_argument("--modes", nargs="+", default=["table", "generator"], choices=["table", "generator"],
                   help="noise modes to time")
    p.add_argument("--env", default="HalfCheetah-v5", help="environment of the rollout reference")
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 64], help="MLP hidden sizes (rollout)")
    p.add_argument("--episodes", type=int, default=10, help="episodes timed for the rollout reference")
    p.add_argument("--max-steps", type=int, default=1000, help="step cap of the reference episodes")
    p.add_argument("--ranks", type=int, default=2, help="ranks assumed for the rollout estimate")
    p.add_argument("--seed", type=int, default=0, help="run seed")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: dim 10k, population 64, table 2^20, 2 generations, 2 episodes")
    common.add_common_options(p, NAME)
    args = p.parse_args(argv)
    if args.quick:
        args.dim, args.population, args.table_size = 10_000, 64, 2**20
        args.generations, args.episodes = 2, 2
    if args.population < 2 or args.population % 2:
        p.error("--population must be even and >= 2 (mirrored sampling)")
    if min(args.dim, args.generations, args.episodes, args.max_steps, args.ranks) < 1:
        p.error("--dim, --generations, --episodes, --max-steps and --ranks must be >= 1")
    if args.table_size < args.dim:
        p.error("--table-size must be >= --dim")
    return args


def time_mode(mode: str, args) -> dict:
    from mpies import seeding
    from mpies.noise import CounterNoise, NoiseTable
    from mpies.strategies import OpenAIES, OpenAIESConfig

    t0 = time.perf_counter()
    noise = (NoiseTable(args.seed, args.dim, args.table_size) if mode == "table"
             else CounterNoise(args.seed, args.dim))
    build_s = time.perf_counter() - t0
    config = OpenAIESConfig(population=args.population)
    theta0 = seeding.generator(args.seed, seeding.INIT_PARAMS).standard_normal(args.dim) * 0.1
    strategy = OpenAIES(config, theta0, noise)
    fitness_rng = np.random.default_rng(args.seed)
    checksum = 0.0

    times = {ph: [] for ph in PHASES}
    for g in range(args.generations + 1):  # generation 0 is an untimed warm-up
        t0 = time.perf_counter()
        population = strategy.ask()
        t1 = time.perf_counter()
        for i in range(population.size):
            params = strategy.member_params(population, i)
        checksum += float(params[0])  # keep the last fetch observable
        t2 = time.perf_counter()
        strategy.tell(population, fitness_rng.standard_normal(population.size))
        t3 = time.perf_counter()
        if g:
            times["ask"].append(t1 - t0)
            times["fetch"].append(t2 - t1)
            times["tell"].append(t3 - t2)
        print(f"  {mode:9s} gen {g}{' (warm-up)' if not g else '':10s} ask {1e3 * (t1 - t0):8.2f} ms"
              f"  fetch {1e3 * (t2 - t1):9.2f} ms  tell {1e3 * (t3 - t2):9.2f} ms")
    med = {ph: common.median(v) for ph, v in times.items()}
    total = sum(med.values())
    return {"build_seconds": build_s, "median_ms": {ph: 1e3 * v for ph, v in med.items()},
            "median_total_ms": 1e3 * total,
            "fetch_us_per_member": 1e6 * med["fetch"] / args.population,
            "per_generation_seconds": times, "checksum": checksum}


def episode_seconds(args) -> tuple[list[float], int]:
    from mpies import seeding
    from mpies.envs import make_env
    from mpies.policies import Policy
    from mpies.rollout import run_episode

    env = make_env(args.env)
    policy = Policy(env.observation_space, env.action_space, "mlp", args.hidden)
    act = policy.actor(policy.initial_params(seeding.generator(args.seed, seeding.INIT_PARAMS)),
                       np.zeros(policy.obs_dim), np.ones(policy.obs_dim))
    buffer = np.empty((args.max_steps, policy.obs_dim))
    run_episode(env, act, args.seed + 10_000, args.max_steps, buffer)  # warm-up
    out, lengths = [], []
    for e in range(args.episodes):
        t0 = time.perf_counter()
        ep = run_episode(env, act, args.seed + 1 + e, args.max_steps, buffer)
        out.append(time.perf_counter() - t0)
        lengths.append(ep.length)
    env.close()
    return out, int(np.median(lengths))


def main(argv=None) -> dict:
    args = parse_args(argv)
    print(f"{NAME}: dim {args.dim:,}, population {args.population}, table {args.table_size:,} "
          f"float32 ({args.table_size * 4 / 2**20:.0f} MiB), {args.generations} timed generations")
    if args.wait_quiet:
        common.wait_quiet(args.wait_quiet)
    before = common.idle_check()
    monitor = common.CpuMonitor().start()
    modes = {m: time_mode(m, args) for m in args.modes}
    ep_s, ep_len = episode_seconds(args)
    load = dict(monitor.stop(), before=before)
    ep_med = common.median(ep_s)
    gen_rollout_s = args.population * ep_med / args.ranks
    print(f"  rollout reference: {args.env} MLP {args.hidden}, episodes of {ep_len} steps: "
          + ", ".join(f"{s * 1e3:.1f}" for s in ep_s) + " ms")

    rows = []
    for m, r in modes.items():
        ms = r["median_ms"]
        per_rank_ms = ms["ask"] + ms["tell"] + ms["fetch"] / args.ranks
        r["per_rank_ms"] = per_rank_ms
        r["pct_of_rollout"] = 100 * r["median_total_ms"] / 1e3 / gen_rollout_s
        r["per_rank_pct_of_rollout"] = 100 * per_rank_ms / 1e3 / gen_rollout_s
        rows.append([m, f"{r['build_seconds'] * 1e3:.0f}", f"{ms['ask']:.2f}", f"{ms['fetch']:.1f}",
                     f"{r['fetch_us_per_member']:.0f}", f"{ms['tell']:.1f}", f"{r['median_total_ms']:.1f}",
                     f"{per_rank_ms:.1f}", f"{r['pct_of_rollout']:.2f}%", f"{r['per_rank_pct_of_rollout']:.2f}%"])
    table = common.format_table(
        ["noise mode", "build ms", "ask ms", "fetch ms", "us/member", "tell ms", "total ms",
         f"per rank ms ({args.ranks})", "% of rollout", "per rank %"], rows,
        title=f"\nms per generation (median of {args.generations}), dim {args.dim:,}, population "
              f"{args.population}; total = ask + fetch(all members) + tell; per rank = ask + tell + "
              f"fetch/{args.ranks}")
    print(table)
    print(f"rollout estimate: {args.population} x {ep_med:.4f} s/episode / {args.ranks} ranks = "
          f"{gen_rollout_s:.2f} s per generation")
    if "table" in modes and "generator" in modes:
        print(f"generator / table total time: "
              f"{modes['generator']['median_total_ms'] / modes['table']['median_total_ms']:.1f}x")
    target_value = modes["table"]["pct_of_rollout"] if "table" in modes else float("nan")
    print(f"target table-mode update < 3% of rollout: {target_value:.2f}% -> "
          f"{common.check(target_value, 3.0, higher_is_better=False)}")
    print(common.contamination_line(load))

    for r in modes.values():
        r.pop("checksum")
    payload = {
        "benchmark": NAME,
        "description": "ms per generation of ask / member_params for all members / tell, noise table "
                       "vs counter generator, vs the estimated rollout time of a generation",
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "modes": modes,
        "rollout": {"env_id": args.env, "hidden": args.hidden, "episode_seconds": ep_s,
                    "median_episode_seconds": ep_med, "episode_length": ep_len, "ranks": args.ranks,
                    "estimated_generation_rollout_seconds": gen_rollout_s},
        "target": {"metric": "table-mode (ask + fetch all + tell) as % of generation rollout time",
                   "value": 3.0, "measured": target_value},
        "machine_load": load,
        "environment": common.environment(),
        "table": table,
    }
    common.write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
