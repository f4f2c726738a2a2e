"""Search strategies: pure-numpy ask/tell objects, no MPI, no I/O.

A strategy exposes ``ask() -> population``, ``member_params(population, i)``,
``tell(population, fitness) -> diagnostics``, ``mean``, ``state_dict()`` and ``load_state_dict()``.
"""

from .openai_es import OpenAIES, Population

STRATEGIES = {"openai_es": OpenAIES}
"""Algorithm name (the config's ``algorithm``) -> strategy class."""

__all__ = ["STRATEGIES", "OpenAIES", "Population"]
