"""``mpies inspect``: what a run file holds, for people (a table) and scripts (--json).

One file: its summary, the last history rows and (POET) its pairs. Several files: one row per
run (:data:`ROW_COLUMNS`); a file that cannot be read gets a row saying so, its reason goes to
stderr, and the command exits 2 after the table.

POET runs (``algorithm = "poet"``) also list their environment-agent pairs and a line of counts
(pairs created, transfers accepted, pairs removed) with the hardest terrain solved; in ``--json``
these are under the key ``"poet"``.
"""

from __future__ import annotations

import json
import sys

import click

from ..clock import clock
from ..io import RunFileError
from ..io.reader import check_run_file
from ..io.summary import history_tail, summarize
from .errors import EXIT_USAGE, user_errors

SUMMARY_KEYS = ("path", "status", "algorithm", "history_family", "env", "seed", "ranks", "num_params",
                "generations_done", "generations_total", "checkpoint_generation", "env_steps", "wall_time",
                "last_fitness_mean", "last_fitness_max", "last_eval_return", "best_eval_return",
                "best_generation", "failed_members", "archive_filled", "qd_score", "emitter_restarts",
                "emitter_sigma_mean", "active_pairs", "score_max", "start_time", "end_time", "host", "mpies_version")
FAMILY_KEYS = ("archive_filled", "qd_score", "emitter_restarts", "emitter_sigma_mean", "active_pairs", "score_max")
"""Keys of one history family only: left out of the table where the summary lacks them."""

TAIL_COLUMNS = (  # (history column, header, width, format); a file shows those it has
    ("fitness_mean", "fit mean", 10, ".2f"), ("fitness_max", "fit max", 10, ".2f"),
    ("eval_return", "eval", 10, ".2f"), ("sigma", "sigma", 9, ".4f"),
    ("archive_filled", "filled", 7, "d"), ("qd_score", "qd score", 11, ".5g"),
    ("active_pairs", "pairs", 6, "d"), ("score_max", "best pair", 10, ".2f"),
    ("sigma_mean", "sigma", 9, ".4f"), ("emitter_restarts", "restarts", 8, "d"),
)
SECONDS = ("rollout_seconds", "gather_seconds", "update_seconds", "io_seconds")


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


def _tail_table(rows) -> list[str]:
    """The last history rows, in the columns this file's family has."""
    shown = [c for c in TAIL_COLUMNS if c[0] in rows.dtype.names]
    lines = ["", f"{'gen':>6} " + " ".join(f"{header:>{width}}" for _, header, width, _ in shown)
             + f" {'steps':>11} {'s/gen':>7}"]
    for r in rows:
        seconds = sum(r[name] for name in SECONDS)
        lines.append(f"{r['generation']:>6} " + " ".join(f"{r[name]:>{width}{fmt}}" for name, _, width, fmt in shown)
                     + f" {r['env_steps']:>11} {seconds:>7.2f}")
    return lines


ROW_COLUMNS = (  # (header, summary -> text)
    ("run", lambda s: s["path"]),
    ("algorithm", lambda s: s.get("algorithm", "?")),
    ("env", lambda s: s.get("env", "?")),
    ("seed", lambda s: str(s.get("seed", "?"))),
    ("status", lambda s: s.get("status", "?")),
    ("generations", lambda s: f"{s['generations_done']}/{s['generations_total'] or '?'}"),
    ("best", lambda s: "-" if s.get("best_eval_return") is None else f"{s['best_eval_return']:.6g}"),
    ("wall time", lambda s: "-" if s.get("wall_time") is None else clock(s["wall_time"])),
)


def _rows(summaries: list[dict | str], paths) -> list[str]:
    """One aligned line per run: a summary, or for an unreadable file the text ``unreadable``."""
    cells = [[h for h, _ in ROW_COLUMNS]]
    for summary, path in zip(summaries, paths):
        if isinstance(summary, dict):
            cells.append([text(summary) for _, text in ROW_COLUMNS])
        else:
            cells.append([str(path) if h == "run" else "unreadable" if h == "status" else "-"
                          for h, _ in ROW_COLUMNS])
    widths = [max(len(row[i]) for row in cells) for i in range(len(ROW_COLUMNS))]
    right = {"seed", "generations", "best", "wall time"}
    return ["  ".join(c.rjust(w) if h in right else c.ljust(w)
                      for c, w, (h, _) in zip(row, widths, ROW_COLUMNS)).rstrip() for row in cells]


def _table(summary: dict, history_tail) -> str:
    width = max(len(k) for k in SUMMARY_KEYS)
    lines = []
    for k in SUMMARY_KEYS:
        if k in FAMILY_KEYS and k not in summary:
            continue
        v = summary.get(k)
        if k == "status" and summary.get("writer"):
            v = f"{v} ({summary['writer']})"
        if isinstance(v, float):
            v = f"{v:.6g}"
        lines.append(f"{k:<{width}}  {'-' if v in (None, '') else v}")
    if history_tail.size:
        lines.extend(_tail_table(history_tail))
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

    One file: the whole summary and its last history rows. Several (mpies inspect runs/*.h5): one
    row each (run, algorithm, env, seed, status, generations, best evaluation, wall time).
    Works on finished runs, on runs still being written (live), and on files of killed runs.
    """
    if as_json or len(paths) == 1:
        for path in paths:
            check_run_file(path)
            summary = summarize(path)
            click.echo(json.dumps(summary) if as_json else _table(summary, history_tail(path, tail)))
        return
    summaries, errors = [], []
    for path in paths:
        try:
            check_run_file(path)
            summaries.append(summarize(path))
        except RunFileError as exc:
            summaries.append(None)
            errors.append(str(exc))
    click.echo("\n".join(_rows(summaries, paths)))
    for message in errors:
        click.echo(f"Error: {message}", err=True)
    if errors:
        sys.exit(EXIT_USAGE)
