"""Search strategies: pure-numpy ask/tell objects, no MPI, no I/O.

A strategy is built as ``Strategy(config, theta0, noise)`` and exposes ``ask() -> population``,
``member_params(population, i)``, ``tell(population, fitness) -> diagnostics`` (with ``sigma`` and
``update_norm``), ``mean``, ``population_size``, ``state_dict()`` and ``load_state_dict()``.
State arrays keep their shapes for the whole run (checkpoints are written in place).
"""

from functools import partial

from .cem import CEM
from .cma_es import CMAES
from .ga import GA
from .openai_es import OpenAIES, Population

STRATEGIES = {
    "openai_es": OpenAIES,
    "cem": CEM,
    "cma_es": CMAES,
    "sep_cma_es": partial(CMAES, separable=True),
    "ga": GA,
}
"""Algorithm name (the config's ``algorithm``) -> strategy constructor."""

__all__ = ["CEM", "CMAES", "GA", "STRATEGIES", "OpenAIES", "Population"]
