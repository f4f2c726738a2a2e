"""``mpies config``: the shipped configs, listed or printed to copy and edit.

    mpies config                   # every shipped config with its first comment line
    mpies config cartpole > my.toml
    mpiexec -n 2 mpies run my.toml
"""

from __future__ import annotations

import difflib
import shutil

import click

from ..config import shipped_configs
from .errors import fail


def summary_line(text: str) -> str:
    """The first comment line of a config's TOML text, without its ``#`` ('' when it has none)."""
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 3, 0)].rstrip() + "..."


@click.command("config", short_help="List shipped configs, or print one to copy and edit.")
@click.argument("name", required=False)
@click.option("--list", "list_all", is_flag=True, help="list the shipped configs (the default without NAME)")
def config(name, list_all):
    """Print the shipped config NAME (TOML) to copy and edit; without NAME, list them.

    \b
      mpies config                       # the shipped configs, one line each
      mpies config cartpole > my.toml    # edit my.toml, then
      mpiexec -n 2 mpies run my.toml
    """
    shipped = shipped_configs()
    if name is None or list_all:
        width = max(map(len, shipped))
        room = shutil.get_terminal_size((100, 24)).columns - width - 4
        click.echo("Shipped configs (`mpies config NAME` prints one, `mpies run NAME` runs it):")
        for key in sorted(shipped):
            click.echo(f"  {key:<{width}}  {_fit(summary_line(shipped[key]), room)}".rstrip())
        return
    if name not in shipped:
        close = difflib.get_close_matches(name, list(shipped), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        fail(f"config: no shipped config {name!r}{hint}; `mpies config` lists them")
    click.echo(shipped[name], nl=False)
