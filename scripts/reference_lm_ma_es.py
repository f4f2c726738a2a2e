#!/usr/bin/env python
"""Reference numbers for LM-MA-ES: evaluations to f <= 1e-8, mpies ``lm_ma_es`` vs pypop7's ``LMMAES``.

What is measured
    For each case and each seed 0..10, the evaluations that each implementation needs until a
    member reaches ``f(x) <= 1e-8`` on ``mpies.envs.functions`` (sphere, ellipsoid with condition
    1e6, rosenbrock), counted in whole generations (mpies: ``evals_to_target``; pypop7 stops after
    the member that reaches the target, so its count is rounded up to the generation's end).
    Both start at ``x0`` in every coordinate with step size ``sigma`` and pypop7's defaults
    (lambda = m = 4 + floor(3 ln n), mu = lambda / 2, log weights), no restarts
    (``is_restart = False``). Where the paper's ``c_sigma = 2 lambda / n`` exceeds 1 (10-D), mpies
    caps it at 1 and pypop7 is given ``c_s = 1`` too (its own default, 2, makes its sigma shrink
    by e per generation: see ``mpies/strategies/lm_ma_es.py``). mpies uses ``CounterNoise(seed, n)``.

Reproduce
    python scripts/reference_lm_ma_es.py                      # every case, ~25 min on one core
    python scripts/reference_lm_ma_es.py --cases sphere-10 --seeds 3 --out /tmp/x.json

Output: a table on stdout and ``tests/data/references/lm_ma_es.json`` (``--out``), whose pypop7
medians ``tests/test_lm_ma_es.py`` compares mpies with.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402  (sets BLAS thread variables before numpy loads)

import numpy as np  # noqa: E402

from pypop7.optimizers.es.lmmaes import LMMAES as PypopLMMAES  # noqa: E402

from mpies.envs.functions import FUNCTIONS, evals_to_target  # noqa: E402
from mpies.noise import CounterNoise  # noqa: E402
from mpies.strategies.cma_es import default_population  # noqa: E402
from mpies.strategies.lm_ma_es import LMMAES, LMMAESConfig  # noqa: E402

TARGET = 1e-8
OUT = Path(__file__).resolve().parent.parent / "tests/data/references/lm_ma_es.json"
CASES = {  # name -> function, dimension, x0 (every coordinate), sigma, budget in evaluations
    "sphere-10": ("sphere", 10, 3.0, 2.0, 20_000),
    "ellipsoid-10": ("ellipsoid", 10, 3.0, 2.0, 600_000),
    "rosenbrock-10": ("rosenbrock", 10, 0.0, 0.5, 100_000),
    "sphere-100": ("sphere", 100, 3.0, 2.0, 100_000),
    "sphere-1000": ("sphere", 1000, 3.0, 2.0, 400_000),
}


def pypop7_evals(function: str, n: int, x0: float, sigma: float, budget: int, seed: int) -> float:
    """pypop7 LMMAES's evaluations to the target, in whole generations (inf on budget)."""
    lam = default_population(n)
    problem = {"fitness_function": FUNCTIONS[function], "ndim_problem": n,
               "lower_boundary": np.full(n, -5.0), "upper_boundary": np.full(n, 5.0)}
    options = {"max_function_evaluations": budget, "seed_rng": seed, "mean": np.full(n, x0), "sigma": sigma,
               "fitness_threshold": TARGET, "is_restart": False, "verbose": False, "saving_fitness": 0,
               "c_s": min(2 * lam / n, 1.0)}
    result = PypopLMMAES(problem, options).optimize()
    if result["best_so_far_y"] > TARGET:
        return math.inf
    return float(math.ceil(result["n_function_evaluations"] / lam) * lam)


def mpies_evals(function: str, n: int, x0: float, sigma: float, budget: int, seed: int) -> float:
    es = LMMAES(LMMAESConfig(sigma=sigma), np.full(n, x0), CounterNoise(seed, n))
    return evals_to_target(es, FUNCTIONS[function], budget, TARGET)


def summary(evals: list[float]) -> dict:
    return {"evals": [None if math.isinf(e) else e for e in evals], "median": float(np.median(evals))}


def main(argv=None) -> None:
    parser = common.reference_parser(__doc__, CASES, OUT)
    args = parser.parse_args(argv)

    cases = {}
    print(f"{'case':<15}{'pypop7 median':>15}{'mpies median':>14}{'ratio':>8}{'seconds':>9}")
    for name in args.cases:
        function, n, x0, sigma, budget = CASES[name]
        start = time.perf_counter()
        theirs = [pypop7_evals(function, n, x0, sigma, budget, seed) for seed in range(args.seeds)]
        ours = [mpies_evals(function, n, x0, sigma, budget, seed) for seed in range(args.seeds)]
        cases[name] = {**summary(theirs), "mpies": summary(ours),
                       "settings": {"function": function, "dim": n, "x0": x0, "sigma": sigma,
                                    "population": default_population(n), "budget": budget,
                                    "c_s": min(2 * default_population(n) / n, 1.0)}}
        ratio = np.median(ours) / np.median(theirs)
        print(f"{name:<15}{np.median(theirs):>15.0f}{np.median(ours):>14.0f}{ratio:>8.3f}"
              f"{time.perf_counter() - start:>9.1f}", flush=True)

    common.write_reference(
        args.out, "scripts/reference_lm_ma_es.py", argv, "pypop7", TARGET, args.seeds,
        "x0 in every coordinate, sigma as given, pypop7 defaults (lambda = m = 4 + "
        "floor(3 ln n)), is_restart = False, c_s = min(2 lambda / n, 1); evaluations in "
        "whole generations until f <= target; null = budget spent", cases)


if __name__ == "__main__":
    main()
