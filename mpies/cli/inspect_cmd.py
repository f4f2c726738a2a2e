"""``mpies inspect``: what a run file holds, for people (a table) and scripts (--json).

POET runs (``algorithm = "poet"``) also list their environment-agent pairs and a line of counts
(pairs created, transfers accepted, pairs removed) with the hardest terrain solved; in ``--json``
these are under the key ``"poet"``.
"""

from __future__ import annotations

import json

import click
import numpy as np

from ..io import open_run, read_best, read_history
from .errors import user_errors


def summarize(path: str) -> dict:
    """Summary of one run file as plain Python values (what ``--json`` prints)."""
    with open_run(path) as f:
        attrs = {k: (v.item() if hasattr(v, "item") else str(v)) for k, v in f.attrs.items() if k != "config"}
        history = read_history(f)
        best = read_best(f)
        pointer = f["state/pointer"][()]
        import tomllib
        generations = tomllib.loads(str(f.attrs["config"])).get("generations")
        poet = _poet_summary(f) if str(f.attrs.get("algorithm", "")) == "poet" else None
    last = history[-1] if history.size else None
    evals = history["eval_return"][~np.isnan(history["eval_return"])] if history.size else np.array([])

    return {
        "path": str(path), **attrs,
        "generations_done": int(history.size), "generations_total": generations,
        "checkpoint_generation": int(pointer[1]) if pointer[0] >= 0 else None,
        "env_steps": int(last["env_steps"]) if last is not None else 0,
        "wall_time": num(last["wall_time"]) if last is not None else None,
        "last_fitness_mean": num(last["fitness_mean"]) if last is not None else None,
        "last_fitness_max": num(last["fitness_max"]) if last is not None else None,
        "last_eval_return": num(evals[-1]) if evals.size else None,
        "best_eval_return": num(best["fitness"]) if int(best["generation"]) >= 0 else None,
        "best_generation": int(best["generation"]) if int(best["generation"]) >= 0 else None,
        "failed_members": int(history["failed"].sum()) if history.size else 0,
    } | ({"archive_filled": int(last["archive_filled"]), "qd_score": num(last["qd_score"])}
         if last is not None and last["archive_filled"] >= 0 else {}) \
      | ({"poet": poet} if poet is not None else {})


def num(x) -> float | None:
    """A float for JSON: None for NaN and infinities."""
    x = float(x)
    return None if np.isnan(x) or np.isinf(x) else x


def _solved_score(config_text: str) -> float:
    """``strategy.solved_score`` of a run's config (the POETConfig default if it cannot be read)."""
    from ..config import POETConfig, from_toml
    try:
        return float(from_toml(config_text).strategy.solved_score)
    except (ValueError, KeyError, AttributeError, TypeError):  # ConfigError, TOML errors: an older file
        import tomllib
        try:
            return float(tomllib.loads(config_text).get("strategy", {}).get("solved_score",
                                                                             POETConfig.solved_score))
        except (ValueError, TypeError, AttributeError):
            return float(POETConfig.solved_score)


def _poet_summary(f) -> dict:
    """The pairs of an open POET run file and what they achieved (plain Python values)."""
    from ..io import poet_tables
    from ..poet.summary import hardest_solved, pair_summaries

    events, scores = poet_tables.read(f)
    summaries = pair_summaries(events, scores)
    solved_score = _solved_score(str(f.attrs["config"]))
    hardest = hardest_solved(summaries, solved_score)
    kinds = events["kind"]
    pairs = [{k: (num(v) if isinstance(v, float) else v) for k, v in p.items()} for p in summaries]
    return {
        "pairs_created": int(np.sum(kinds == b"created")),
        "transfers_accepted": int(np.sum(np.char.startswith(kinds, b"transfer"))),
        "pairs_removed": int(np.sum(kinds == b"removed")),
        "solved_score": solved_score,
        "hardest_solved": None if hardest is None else
        {k: hardest[k] for k in ("pair_id", "describe", "difficulty", "terrain")} | {"best_score": num(hardest["best_score"])},
        "pairs": pairs,
    }


def _poet_table(poet: dict) -> list[str]:
    """Lines for the pairs of a POET run: one per pair, then the counts and the hardest solved."""
    def score(v):
        return "-" if v is None else f"{v:.2f}"

    pairs = poet["pairs"]
    width = max([len("terrain")] + [len(p["describe"]) for p in pairs])
    lines = ["", f"{'pair':>5} {'parent':>6} {'created':>7} {'removed':>7}  {'terrain':<{width}}  "
                 f"{'difficulty':<21} {'score':>9} {'best':>9} {'transfers in':>12}"]
    for p in pairs:
        lines.append(f"{p['pair_id']:>5} {'-' if p['parent_id'] < 0 else p['parent_id']:>6} "
                     f"{p['created_at']:>7} {'-' if p['removed_at'] < 0 else p['removed_at']:>7}  "
                     f"{p['describe']:<{width}}  {p['difficulty']:<21} {score(p['score']):>9} "
                     f"{score(p['best_score']):>9} {p['transfers_in']:>12}")
    hardest = poet["hardest_solved"]
    solved = (f"pair {hardest['pair_id']} ({hardest['describe']}, {hardest['difficulty']}, "
              f"best {score(hardest['best_score'])})" if hardest else "none")
    lines.append(f"{poet['pairs_created']} pairs created, {poet['transfers_accepted']} transfers accepted, "
                 f"{poet['pairs_removed']} removed; hardest terrain solved (score >= "
                 f"{poet['solved_score']:g}): {solved}")
    return lines


def _table(summary: dict, history_tail) -> str:
    keys = ["path", "status", "algorithm", "env", "seed", "ranks", "num_params", "generations_done",
            "generations_total", "checkpoint_generation", "env_steps", "wall_time", "last_fitness_mean",
            "last_fitness_max", "last_eval_return", "best_eval_return", "best_generation",
            "failed_members", "archive_filled", "qd_score", "start_time", "end_time", "host",
            "mpies_version"]
    width = max(len(k) for k in keys)
    lines = []
    for k in keys:
        if k not in summary and k in ("archive_filled", "qd_score"):
            continue
        v = summary.get(k)
        if isinstance(v, float):
            v = f"{v:.6g}"
        lines.append(f"{k:<{width}}  {'-' if v in (None, '') else v}")
    if history_tail is not None and history_tail.size:
        lines.append("")
        lines.append(f"{'gen':>6} {'fit mean':>10} {'fit max':>10} {'eval':>10} {'sigma':>9} {'steps':>11} {'s/gen':>7}")
        for r in history_tail:
            seconds = r["rollout_seconds"] + r["gather_seconds"] + r["update_seconds"] + r["io_seconds"]
            lines.append(f"{r['generation']:>6} {r['fitness_mean']:>10.2f} {r['fitness_max']:>10.2f} "
                         f"{r['eval_return']:>10.2f} {r['sigma']:>9.4f} {r['env_steps']:>11} {seconds:>7.2f}")
    if "poet" in summary:
        lines.extend(_poet_table(summary["poet"]))
    return "\n".join(lines)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="one JSON object per file, one per line")
@click.option("--tail", default=5, type=click.IntRange(min=0), help="history rows to show")
@user_errors
def inspect(paths, as_json, tail):
    """Summarise run files: status, progress, best and latest returns.

    Works on finished runs, on runs still being written (live), and on files of killed runs.
    """
    for i, path in enumerate(paths):
        summary = summarize(path)
        if as_json:
            click.echo(json.dumps(summary))
            continue
        with open_run(path) as f:
            tail_rows = read_history(f)[-tail:] if tail else None
        if i:
            click.echo("")
        click.echo(_table(summary, tail_rows))
