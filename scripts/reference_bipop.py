#!/usr/bin/env python
"""Reference numbers for BIPOP (and IPOP) restarts of CMA-ES: mpies ``cma_es`` vs pycma's ``fmin2``.

What is measured
    Rastrigin (unshifted, optimum 0 at the origin) in 10-D and 5-D. For each seed 0..10 both
    implementations start every run from the same ``x0``, drawn once per seed uniformly in
    [-4, 4]^n (``numpy.random.default_rng(seed)``: the BBOB protocol's initial region, Hansen's
    BIPOP paper uses it with sigma0 = 2), with ``sigma0 = 2`` and the default population, and
    restart until a member reaches ``f <= 1e-8`` or the evaluation budget is spent:

    pycma   ``cma.fmin2(f, x0, 2, restarts=50, bipop=..., options={'seed': seed + 1,
            'verbose': -9, 'maxfevals': budget, 'ftarget': 1e-8, 'eval_final_mean': False})``;
            its evaluations are ``es.countevals`` (whole generations).
    mpies   ``CMAES(CMAESConfig(sigma=2, restarts=50, restart_regime=...), x0,
            NoiseTable(seed, n, 100_000))`` through ``evals_to_target`` (whole generations).

    Reported per case, regime and library: the success rate (target reached within the budget)
    and the median evaluations of the successful runs. The budget, not ``restarts``, ends every
    run (pycma does not count its small-population restarts, mpies counts all restarts).

Reproduce
    python scripts/reference_bipop.py                      # ~20 min on one core
    python scripts/reference_bipop.py --cases rastrigin-5 --seeds 3 --out /tmp/x.json

Output: a table on stdout and ``tests/data/references/bipop.json`` (``--out``), whose pycma
figures ``tests/test_bipop.py`` compares mpies with.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402  (sets BLAS thread variables before numpy loads)

import cma  # noqa: E402
import numpy as np  # noqa: E402

from mpies.envs.functions import FUNCTIONS, evals_to_target  # noqa: E402
from mpies.noise import NoiseTable  # noqa: E402
from mpies.strategies import CMAES, CMAESConfig  # noqa: E402

TARGET = 1e-8
SIGMA0 = 2.0
RESTARTS = 50
TABLE_SIZE = 100_000
OUT = Path(__file__).resolve().parent.parent / "tests/data/references/bipop.json"
CASES = {  # name -> function, dimension, budget in evaluations
    "rastrigin-10": ("rastrigin", 10, 300_000),
    "rastrigin-5": ("rastrigin", 5, 30_000),
}
REGIMES = ("bipop", "ipop")


def initial_point(n: int, seed: int) -> np.ndarray:
    """float64 ``(n,)`` uniform in [-4, 4]^n: the start of every run of ``seed``."""
    return np.random.default_rng(seed).uniform(-4.0, 4.0, n)


def pycma_evals(function: str, n: int, budget: int, regime: str, seed: int) -> float:
    """pycma's evaluations until ``f <= TARGET`` (inf when the budget is spent first)."""
    options = {"seed": seed + 1, "verbose": -9, "maxfevals": budget, "ftarget": TARGET, "eval_final_mean": False}
    _, es = cma.fmin2(FUNCTIONS[function], list(initial_point(n, seed)), SIGMA0, options=options,
                      restarts=RESTARTS, bipop=regime == "bipop")
    return float(es.countevals) if es.result.fbest <= TARGET else math.inf


def mpies_strategy(n: int, regime: str, seed: int) -> CMAES:
    """The mpies side of a comparison (also what ``tests/test_bipop.py`` runs)."""
    config = CMAESConfig(sigma=SIGMA0, restarts=RESTARTS, restart_regime=regime)
    return CMAES(config, initial_point(n, seed), NoiseTable(seed, n, TABLE_SIZE))


def mpies_evals(function: str, n: int, budget: int, regime: str, seed: int) -> float:
    return evals_to_target(mpies_strategy(n, regime, seed), FUNCTIONS[function], budget, TARGET)


def summary(evals: list[float]) -> dict:
    """Per-seed evaluations (null = budget spent), success rate, median of the successful runs."""
    solved = [e for e in evals if math.isfinite(e)]
    return {"evals": [e if math.isfinite(e) else None for e in evals], "success_rate": len(solved) / len(evals),
            "median": float(np.median(solved)) if solved else None}


def main(argv=None) -> None:
    parser = common.reference_parser(__doc__, CASES, OUT)
    args = parser.parse_args(argv)

    cases = {}
    print(f"{'case':<14}{'regime':<7}{'library':<8}{'success':>9}{'median evals':>14}{'seconds':>9}")
    for name in args.cases:
        function, n, budget = CASES[name]
        cases[name] = {"function": function, "dim": n, "budget": budget}
        for regime in REGIMES:
            for library, run in (("pycma", pycma_evals), ("mpies", mpies_evals)):
                start = time.perf_counter()
                result = summary([run(function, n, budget, regime, seed) for seed in range(args.seeds)])
                cases[name].setdefault(regime, {})[library] = result
                median = "-" if result["median"] is None else f"{result['median']:.0f}"
                print(f"{name:<14}{regime:<7}{library:<8}{result['success_rate']:>9.2f}{median:>14}"
                      f"{time.perf_counter() - start:>9.1f}", flush=True)

    common.write_reference(
        args.out, "scripts/reference_bipop.py", argv, "cma", TARGET, args.seeds,
        f"x0 uniform in [-4, 4]^n from numpy default_rng(seed), the same for every restart; "
        f"sigma0 = {SIGMA0}; default population; restarts = {RESTARTS} (the budget ends "
        f"every run); evaluations in whole generations until f <= target, null = budget "
        f"spent; median over the successful runs; mpies noise: NoiseTable(seed, n, {TABLE_SIZE})", cases)


if __name__ == "__main__":
    main()
