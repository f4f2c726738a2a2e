"""Every algorithm a config can name: one :class:`Algorithm` entry each, declared beside it.

Each module listed in :data:`MODULES` defines ``ALGORITHMS``, a tuple of entries. An entry names
the config dataclass of the run's ``[strategy]`` table and either a strategy (an ask/tell object
of the search-distribution family, run by :class:`mpies.search.SearchProgram`) or a program of
its own (a ``"module:Class"`` path, imported only when a run needs it, e.g. POET's).

A new strategy is one file (its config dataclass, its class and its ``ALGORITHMS`` line), one
line in :data:`MODULES` and its tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

SEARCH_PROGRAM = "mpies.search:SearchProgram"

MODULES = (
    "mpies.strategies.openai_es",
    "mpies.strategies.pgpe",
    "mpies.strategies.ars",
    "mpies.strategies.cem",
    "mpies.strategies.cma_es",
    "mpies.strategies.nes",
    "mpies.strategies.ga",
    "mpies.strategies.lm_ma_es",
    "mpies.qd.map_elites",
    "mpies.qd.cma_me",
    "mpies.poet.config",
)
"""Modules that declare ``ALGORITHMS``; importing them is cheap (numpy and dataclasses only)."""


@dataclass(frozen=True)
class Algorithm:
    """One algorithm a config can name.

    Attributes:
        name: the config's ``algorithm``.
        config: dataclass of the ``[strategy]`` table.
        summary: one line for ``--help`` and ``mpies envs``.
        strategy: ``strategy(config, theta0, noise)`` -> an ask/tell object (search family).
        program: ``"module:Class"`` of the program that runs a generation (default: the search
            program over ``strategy``).
    """

    name: str
    config: type
    summary: str
    strategy: Callable | None = None
    program: str = SEARCH_PROGRAM

    def program_class(self) -> type:
        module, _, name = self.program.partition(":")
        return getattr(importlib.import_module(module), name)


@cache
def algorithms() -> dict[str, Algorithm]:
    """Name -> entry, for every algorithm of :data:`MODULES`, in declaration order."""
    out: dict[str, Algorithm] = {}
    for module in MODULES:
        for entry in importlib.import_module(module).ALGORITHMS:
            if entry.name in out:  # pragma: no cover - a programming error
                raise RuntimeError(f"algorithm {entry.name!r} declared twice")
            out[entry.name] = entry
    return out


def get(name: str) -> Algorithm:
    """The entry named ``name`` (a KeyError for unknown names: config validation comes first)."""
    return algorithms()[name]
