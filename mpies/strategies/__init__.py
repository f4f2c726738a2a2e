"""Search strategies: pure-numpy ask/tell objects, no MPI, no I/O.

A strategy is built as ``Strategy(config, theta0, noise)`` and exposes ``ask() -> population``,
``member_params(population, i)``, ``tell(population, fitness) -> diagnostics`` (with ``sigma`` and
``update_norm``), ``mean``, ``population_size``, ``generation``, its typed ``state`` (a
:class:`State`: what a checkpoint saves), ``state_dict()`` and ``load_state_dict()``; the
bookkeeping lives in :class:`Strategy`. State arrays keep their shapes for the whole run
(checkpoints are written in place). Each module declares its config dataclass and its
:mod:`mpies.registry` entries (``ALGORITHMS``) beside the class.
"""

from .base import State, Strategy
from .cem import CEM, CEMConfig, CEMState
from .cma_es import CMAES, CMAESConfig, CMAESState
from .ga import GA, GAConfig, GAState
from .openai_es import OpenAIES, OpenAIESConfig, OpenAIESState, Population

__all__ = ["CEM", "CMAES", "GA", "CEMConfig", "CEMState", "CMAESConfig", "CMAESState", "GAConfig",
           "GAState", "OpenAIES", "OpenAIESConfig", "OpenAIESState", "Population", "State", "Strategy"]
