"""``mpies envs``: the shipped configs and the environments mpies is tested on."""

from __future__ import annotations

import tomllib

import click

from ..config import shipped_configs
from ..envs import FAMILIES
from ..envs.functions import FUNCTIONS


@click.command()
def envs():
    """List shipped configs (usable by name with `mpies run NAME`) and known environments."""
    click.echo("Shipped configs (mpies run NAME):")
    for name, text in sorted(shipped_configs().items()):
        data = tomllib.loads(text)
        s = data.get("strategy", {})
        click.echo(f"  {name:<14} {data.get('env', '?'):<18} {data.get('algorithm', 'openai_es'):<10} "
                   f"population {s.get('population', '-'):<5} generations {data.get('generations', '-')}")
    click.echo("\nEnvironments (config key `env`; any gymnasium id with a flat Box observation and Discrete")
    click.echo("or flat Box actions works, and `module:Env-v0` imports `module` first to register a custom one):")
    for family, ids in FAMILIES.items():
        click.echo(f"  {family:<16} {', '.join(ids)}")
    click.echo("\nBuilt in:")
    click.echo("  tetris           research Tetris, linear policy over board features;")
    click.echo("                   env_kwargs = {height = 20, features = \"bt\" | \"dt\", max_pieces = 0}")
    click.echo("  fn:NAME          benchmark function, fitness -f(x): " + ", ".join(f"fn:{n}" for n in sorted(FUNCTIONS)))
    click.echo("                   env_kwargs = {dim = 10, x0 = 3.0}")
    click.echo("  arm              planar arm for quality diversity (descriptor: the hand's position);")
    click.echo("                   env_kwargs = {joints = 10}")
    click.echo("  ant              MuJoCo Ant-v5 open-loop gaits for quality diversity (descriptor: foot")
    click.echo("                   contacts); env_kwargs = {duration = 5.0, damage = \"none\" | \"leg=K\" | ...}")
