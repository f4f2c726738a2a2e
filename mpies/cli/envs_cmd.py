"""``mpies envs``: every environment and task a config's ``env`` can name, with what each needs."""

from __future__ import annotations

import json
import tomllib
from typing import NamedTuple

import click

GYM_DESCRIPTIONS = {
    "CartPole-v1": "balance a pole on a cart; 500 is the maximum (discrete)",
    "Pendulum-v1": "swing a pendulum up and hold it; 0 is the maximum",
    "Acrobot-v1": "swing a two-link arm above a line (discrete)",
    "MountainCarContinuous-v0": "drive an underpowered car up a hill",
    "LunarLander-v3": "land between the flags; 200 counts as solved (discrete)",
    "LunarLanderContinuous-v3": "land between the flags with continuous thrust",
    "BipedalWalker-v3": "walk a 2-legged robot over rough ground",
    "HalfCheetah-v5": "run forward (6 joints)",
    "Hopper-v5": "hop forward without falling (3 joints)",
    "Walker2d-v5": "walk forward without falling (6 joints)",
    "Ant-v5": "walk a 4-legged robot forward (8 joints)",
    "Humanoid-v5": "walk a humanoid forward without falling (17 joints)",
    "Swimmer-v5": "swim forward in a viscous fluid (2 joints)",
    "InvertedPendulum-v5": "keep a pole upright on a cart; 1000 is the maximum",
    "InvertedDoublePendulum-v5": "keep a double pole upright on a cart; about 9350 is the maximum",
}
"""Gymnasium id -> what the task is, for the ids mpies is tested on (``mpies.envs.FAMILIES``)."""

BUILT_IN_DESCRIPTIONS = {
    "tetris": ("tetris", "research Tetris: weights of board features; fitness = lines cleared"),
    "arm": ("", "planar arm (quality diversity): joint angles; descriptor = hand position"),
    "ant": ("mujoco", "Ant-v5 open-loop gaits (quality diversity): distance (m), foot contacts"),
    "bipedal_terrain": ("box2d", "POET's BipedalWalker terrains (algorithm = \"poet\" only)"),
}
"""Task name of mpies's own -> (the extra it needs, what it is)."""


class Row(NamedTuple):
    name: str
    extra: str
    description: str
    configs: str


def _configs_by_env() -> dict[str, list[str]]:
    """``env`` -> names of the shipped configs that run on it (``fn:*`` under ``fn:NAME``)."""
    from ..config import shipped_configs
    from ..tasks import FUNCTION_PREFIX

    out: dict[str, list[str]] = {}
    for name, text in sorted(shipped_configs().items()):
        env = tomllib.loads(text).get("env", "CartPole-v1")
        out.setdefault(FUNCTION_PREFIX + "NAME" if env.startswith(FUNCTION_PREFIX) else env, []).append(name)
    return out


def _rows() -> list[Row]:
    from ..envs import FAMILIES
    from ..envs.functions import FUNCTIONS
    from ..extras import EXTRAS
    from ..tasks import FUNCTION_PREFIX

    configs = _configs_by_env()
    rows = []
    for family, ids in FAMILIES.items():
        extra = family if family in EXTRAS else ""
        rows += [Row(env_id, extra, GYM_DESCRIPTIONS.get(env_id, f"a gymnasium {family} environment"),
                     ", ".join(configs.get(env_id, []))) for env_id in ids]
    functions = FUNCTION_PREFIX + "NAME"
    rows.append(Row(functions, "", "fitness -f(x) of the parameters x; NAME: " + ", ".join(sorted(FUNCTIONS)),
                    ", ".join(configs.get(functions, []))))
    rows += [Row(name, extra, description, ", ".join(configs.get(name, [])))
             for name, (extra, description) in BUILT_IN_DESCRIPTIONS.items()]
    return rows


def _options() -> list[tuple[str, str]]:
    """(env, its ``env_kwargs`` with their defaults as TOML) of the tasks that take any."""
    from ..tasks import BUILT_IN, FUNCTION_PREFIX, FunctionTask

    tasks = [(FUNCTION_PREFIX + "NAME", FunctionTask)] + list(BUILT_IN.items())
    return [(name, "{" + ", ".join(f"{key} = {json.dumps(value)}" for key, value in task.OPTIONS.items()) + "}")
            for name, task in tasks]


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1]
            for row in rows]


@click.command(short_help="List every environment and task, and what each needs.")
def envs():
    """List every environment and task that a config's `env` can name: what it is, the extra it
    needs (`pip install 'mpies[EXTRA]'`) and the shipped configs that use it."""
    from ..extras import install_hint

    rows = [("ENV", "EXTRA", "WHAT", "SHIPPED CONFIGS")]
    rows += [(r.name, r.extra or "-", r.description, r.configs or "-") for r in _rows()]
    click.echo("Environments and tasks (config key `env`):")
    for line in _table(rows):
        click.echo(line.rstrip())
    click.echo("\nTask options (config key `env_kwargs`, with their defaults):")
    for line in _table(_options()):
        click.echo(line.rstrip())
    click.echo("\n" + click.wrap_text(
        f"An EXTRA installs with {install_hint('EXTRA')}. Any gymnasium id with a flat Box observation and "
        "Discrete or flat Box actions works too, and `module:Env-v0` imports `module` first to register a "
        "custom one. `mpies config` lists the shipped configs.", width=100))
