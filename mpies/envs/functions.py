"""Benchmark functions as environments (``env = "fn:sphere"``): fitness is ``-f(x)``.

They let strategies be checked without physics: ``x`` is the parameter vector itself.
The dimension and starting point come from ``env_kwargs = {dim = 10, x0 = 3.0}``.
"""

from __future__ import annotations

import numpy as np


def sphere(x: np.ndarray) -> float:
    return float(x @ x)


def ellipsoid(x: np.ndarray) -> float:
    """Axis-parallel ellipsoid with condition number 1e6."""
    n = x.size
    scales = 10.0 ** (6.0 * np.arange(n) / max(n - 1, 1))
    return float(scales @ (x * x))


def rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def rastrigin(x: np.ndarray) -> float:
    return float(10.0 * x.size + np.sum(x * x - 10.0 * np.cos(2 * np.pi * x)))


def evals_to_target(strategy, f, budget: int, target: float = 1e-8) -> float:
    """Evaluations a strategy needs until a member reaches ``f(x) <= target``.

    Whole generations are counted (the generation that reaches the target in full), as in the
    strategy benchmarks and reference checks; ``inf`` when ``budget`` evaluations pass first.

    Args:
        strategy: an ask/tell object of :mod:`mpies.strategies` (it maximises ``-f``).
        f: function to minimise, float64 ``(n,)`` -> float.
        budget: the most evaluations to spend.
        target: value of ``f`` that counts as reached.
    """
    evals = 0
    while evals < budget:
        population = strategy.ask()
        values = np.array([f(strategy.member_params(population, i)) for i in range(population.size)])
        evals += population.size
        if values.min() <= target:
            return float(evals)
        strategy.tell(population, -values)
    return float("inf")


FUNCTIONS = {"sphere": sphere, "ellipsoid": ellipsoid, "rosenbrock": rosenbrock, "rastrigin": rastrigin}
"""Name after ``fn:`` -> function to minimise (its negative is maximised)."""
