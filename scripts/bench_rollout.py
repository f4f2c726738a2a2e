#!/usr/bin/env python
"""Environment steps per second inside mpies rollouts vs a bare gymnasium loop, same process.

What is measured
    Three ways of playing 1000-step HalfCheetah-v5 episodes with one and the same policy function
    (an mpies MLP, hidden [64, 64], initial parameters from ``Policy.initial_params`` as mpies
    draws them, observation mean 0 / std 1):

    bare          ``env = gymnasium.make(env_id)`` (gymnasium defaults, passive checker included);
                  ``obs, _ = env.reset(seed=s)``; then ``env.step(act(obs))`` up to ``--steps`` times
                  (reward summed, stopping early on terminated/truncated).
    mpies         ``mpies.envs.make_env`` + ``mpies.rollout.run_episode(env, act, s, steps)``.
    mpies+obs     the same with an ``obs_buffer``: observation statistics collected, as in a run
                  with ``policy.obs_norm = true`` (the default).

    ``act`` is ``mpies.policies.Policy(...).actor(params, obs_mean, obs_std)`` on every side.
    HalfCheetah never terminates early, so every episode is exactly ``--steps`` long.
    Repetitions are interleaved: each of ``--rounds`` rounds plays ``--episodes`` episodes per
    variant, the order of the variants rotating from round to round, after one untimed warm-up
    episode per variant. Each round gives one steps/s figure per variant (steps / seconds over its
    episodes); the table shows the median over rounds and ratios to bare (ratio of medians, and the
    median of the per-round ratios). Target: mpies / bare >= 0.95. Speed is never asserted.

    For context the script also times ``act(obs)`` alone (policy cost per step).

Machine load
    Each script samples, from /proc/stat, how many cores other processes keep busy just before and
    during the measurement and prints a WARNING when that is above 0.2 cores: numbers taken next
    to other work (another MPI job, a test suite) are slower and noisier than the code deserves.

Reproduce
    python scripts/bench_rollout.py                  # defaults: 5 rounds x 3 episodes x 1000 steps
    python scripts/bench_rollout.py --quick          # smoke run, a few seconds
    python scripts/bench_rollout.py --env Hopper-v5 --rounds 7 --out /tmp/rollout.json

Output: a table on stdout and JSON in bench-results/bench_rollout.json (``--out`` to change).
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

NAME = "bench_rollout"
VARIANTS = ("bare", "mpies", "mpies+obs")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                epilog="See the module docstring (top of this file) for the method.")
    p.add_argument("--env", default="HalfCheetah-v5", help="gymnasium environment id")
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 64], help="MLP hidden layer sizes")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (bare / mpies / mpies+obs)")
    p.add_argument("--episodes", type=int, default=3, help="episodes per variant per round")
    p.add_argument("--steps", type=int, default=1000, help="step cap per episode")
    p.add_argument("--seed", type=int, default=0, help="seed of the policy parameters and episodes")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 rounds x 1 episode x 200 steps (overrides the three above)")
    common.add_common_options(p, NAME)
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.episodes, args.steps = 2, 1, 200
    if min(args.rounds, args.episodes, args.steps) < 1:
        p.error("--rounds, --episodes and --steps must be >= 1")
    return args


def bare_episode(env, act, seed: int, max_steps: int) -> int:
    """The reference loop: what a user would write with gymnasium alone."""
    obs, _ = env.reset(seed=seed)
    total, steps = 0.0, 0
    while steps < max_steps:
        obs, reward, terminated, truncated, _ = env.step(act(obs))
        total += float(reward)
        steps += 1
        if terminated or truncated:
            break
    return steps


def main(argv=None) -> dict:
    args = parse_args(argv)
    import gymnasium

    from mpies import seeding
    from mpies.envs import make_env
    from mpies.policies import Policy
    from mpies.rollout import run_episode

    mpies_env = make_env(args.env)
    bare_env = gymnasium.make(args.env)
    policy = Policy(mpies_env.observation_space, mpies_env.action_space, "mlp", args.hidden)
    params = policy.initial_params(seeding.generator(args.seed, seeding.INIT_PARAMS))
    obs_mean, obs_std = np.zeros(policy.obs_dim), np.ones(policy.obs_dim)
    act = policy.actor(params, obs_mean, obs_std)
    obs_buffer = np.empty((args.steps, policy.obs_dim))

    def play(variant: str, seed: int) -> int:
        if variant == "bare":
            return bare_episode(bare_env, act, seed, args.steps)
        buffer = obs_buffer if variant == "mpies+obs" else None
        return run_episode(mpies_env, act, seed, args.steps, buffer).length

    print(f"{NAME}: {args.env}, MLP {args.hidden} ({policy.num_params} parameters), "
          f"{args.rounds} rounds x {args.episodes} episodes x <= {args.steps} steps per variant")
    print(f"  bare env:  {bare_env}")
    print(f"  mpies env: {mpies_env}")

    if args.wait_quiet:
        common.wait_quiet(args.wait_quiet)
    before = common.idle_check()
    monitor = common.CpuMonitor().start()
    for variant in VARIANTS:  # warm-up: first reset/step costs, caches, lazy imports
        play(variant, args.seed + 10_000)

    seeds = [args.seed + 1 + i for i in range(args.episodes)]
    per_round = {v: [] for v in VARIANTS}
    steps_total = {v: 0 for v in VARIANTS}
    for r in range(args.rounds):
        order = VARIANTS[r % 3:] + VARIANTS[:r % 3]
        for variant in order:
            steps, t0 = 0, time.perf_counter()
            for s in seeds:
                steps += play(variant, s)
            elapsed = time.perf_counter() - t0
            per_round[variant].append(steps / elapsed)
            steps_total[variant] += steps
        line = "  ".join(f"{v} {per_round[v][-1]:8.0f}" for v in VARIANTS)
        print(f"  round {r + 1}/{args.rounds}: steps/s  {line}  (order: {', '.join(order)})")

    # Policy alone, for context: microseconds per act() call on a typical observation.
    obs, _ = bare_env.reset(seed=args.seed)
    n_calls = 2000 if not args.quick else 200
    t0 = time.perf_counter()
    for _ in range(n_calls):
        act(obs)
    act_us = (time.perf_counter() - t0) / n_calls * 1e6
    load = dict(monitor.stop(), before=before)
    mpies_env.close()
    bare_env.close()

    med = {v: common.median(per_round[v]) for v in VARIANTS}
    results = {}
    rows = []
    for v in VARIANTS:
        ratio = med[v] / med["bare"]
        paired = common.median(a / b for a, b in zip(per_round[v], per_round["bare"]))
        results[v] = {"median_steps_per_s": med[v], "per_round_steps_per_s": per_round[v],
                      "min_steps_per_s": min(per_round[v]), "max_steps_per_s": max(per_round[v]),
                      "steps_timed": steps_total[v], "ratio_to_bare": ratio,
                      "median_paired_ratio_to_bare": paired,
                      "us_per_step": 1e6 / med[v]}
        rows.append([v, f"{med[v]:,.0f}", f"{min(per_round[v]):,.0f}", f"{max(per_round[v]):,.0f}",
                     f"{1e6 / med[v]:.1f}", f"{ratio:.3f}", f"{paired:.3f}"])
    table = common.format_table(
        ["variant", "median steps/s", "min", "max", "us/step", "ratio vs bare", "paired ratio"], rows,
        title=f"\n{args.env}, MLP {args.hidden}, median over {args.rounds} interleaved rounds "
              f"of {args.episodes} episode(s):")
    print(table)
    print(f"policy act() alone: {act_us:.1f} us/call "
          f"({act_us / results['bare']['us_per_step'] * 100:.0f}% of a bare step)")
    worst = min(results["mpies"]["ratio_to_bare"], results["mpies+obs"]["ratio_to_bare"])
    print(f"target mpies/bare >= 0.95: worst ratio {worst:.3f} -> {common.check(worst, 0.95)}")
    print(common.contamination_line(load))

    payload = {
        "benchmark": NAME,
        "description": "env steps/s: mpies.rollout.run_episode (with/without obs_buffer) vs a bare "
                       "gymnasium loop, same actor, same process, interleaved rounds",
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "env_id": args.env, "num_params": policy.num_params,
        "results": results, "act_us_per_call": act_us,
        "target": {"metric": "min(mpies, mpies+obs) ratio_to_bare", "value": 0.95, "measured": worst},
        "machine_load": load,
        "environment": common.environment(),
        "table": table,
    }
    common.write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
