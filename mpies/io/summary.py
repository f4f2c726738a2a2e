"""Summaries of run files as plain Python values: :func:`summarize` (``mpies inspect``), and for
POET runs what their ``/poet`` tables (:mod:`mpies.io.poet_tables`) say about the
environment-agent pairs (:func:`poet_summary`, :func:`read_poet` for ``mpies plot``).

Every reader here works on any history family and schema version (:mod:`mpies.io.history`).
"""

from __future__ import annotations

import os
import tomllib

import h5py
import numpy as np

from .. import config as config_mod
from .. import registry
from ..poet.summary import hardest_solved, pair_summaries
from . import poet_tables
from .history import POET, QD, history_family, read_family_history
from .lock import writer_state
from .reader import RunFileError, open_run, read_best

LATEST = {QD: ("archive_filled", "qd_score"), POET: ("active_pairs", "score_max")}
"""Family -> history columns whose last value the summary reports under their own name."""


def num(x) -> float | None:
    """A float for JSON: None for NaN and infinities."""
    x = float(x)
    return None if np.isnan(x) or np.isinf(x) else x


def solved_score(config_text: str) -> float:
    """``strategy.solved_score`` of a POET run's stored config. A config this mpies no longer
    loads (a file of another version) gives the value it names, else POET's default."""
    try:
        return float(config_mod.from_toml(config_text).strategy.solved_score)
    except ValueError:  # ConfigError or a TOML error
        pass
    try:
        stored = tomllib.loads(config_text).get("strategy", {}).get("solved_score")
    except ValueError:
        stored = None
    if isinstance(stored, (int, float)) and not isinstance(stored, bool):
        return float(stored)
    return float(registry.get(POET).config.solved_score)


def _plain(value):
    """An HDF5 attribute as a JSON-ready Python value."""
    return value.item() if hasattr(value, "item") else str(value)


def summarize(path: str | os.PathLike) -> dict:
    """Summary of one run file as plain Python values (what ``mpies inspect --json`` prints):
    the root attributes but the config, ``history_family``, progress (generations done and
    total, latest checkpoint, env steps, wall time), the latest fitness and evaluation, the best
    evaluation, failed members; ``writer`` for a ``running`` status (live, or stale: see
    :func:`mpies.io.lock.writer_state`); the latest values of :data:`LATEST` for its family; for POET,
    ``poet`` (:func:`poet_summary`). Absent values are None."""
    with open_run(path) as f:
        attrs = {k: _plain(v) for k, v in f.attrs.items() if k != "config"}
        family = history_family(f)
        history = read_family_history(f)
        best = read_best(f)
        pointer = f["state/pointer"][()]
        generations = tomllib.loads(str(f.attrs["config"])).get("generations")
        poet = poet_summary(f) if family == POET else None
    last = history[-1] if history.size else None

    def latest(name):
        if last is None or name not in history.dtype.names:
            return None
        return int(last[name]) if history.dtype[name].kind == "i" else num(last[name])

    evals = history["eval_return"] if "eval_return" in history.dtype.names else np.array([])
    evals = evals[~np.isnan(evals)]
    best_generation = int(best["generation"])
    out = {
        "path": str(path), **attrs, "history_family": attrs.get("history_family", family),
        "generations_done": int(history.size), "generations_total": generations,
        "checkpoint_generation": int(pointer[1]) if pointer[0] >= 0 else None,
        "env_steps": int(last["env_steps"]) if last is not None else 0,
        "wall_time": latest("wall_time"),
        "last_fitness_mean": latest("fitness_mean"),
        "last_fitness_max": latest("fitness_max"),
        "last_eval_return": num(evals[-1]) if evals.size else None,
        "best_eval_return": num(best["fitness"]) if best_generation >= 0 else None,
        "best_generation": best_generation if best_generation >= 0 else None,
        "failed_members": int(history["failed"].sum()) if history.size else 0,
    }
    out.update({name: latest(name) for name in LATEST.get(family, ())})
    if history.size and "emitter_restarts" in history.dtype.names:  # CMA-ME, CMA-MAE
        out["emitter_restarts"] = int(history["emitter_restarts"].sum())
        out["emitter_sigma_mean"] = latest("sigma_mean")
    out["writer"] = writer_state(path) if out.get("status") == "running" else None
    if poet is not None:
        out["poet"] = poet
    return out


def history_tail(path: str | os.PathLike, rows: int) -> np.ndarray:
    """The last ``rows`` history rows as the family's columns (:func:`read_family_history`)."""
    with open_run(path) as f:
        history = read_family_history(f)
    return history[max(history.size - rows, 0):]


def _counts(events: np.ndarray) -> dict[str, int]:
    kinds = events["kind"]
    return {"pairs_created": int(np.sum(kinds == b"created")),
            "transfers_accepted": int(np.sum(np.char.startswith(kinds, b"transfer"))),
            "pairs_removed": int(np.sum(kinds == b"removed"))}


def poet_summary(f: h5py.File) -> dict:
    """The pairs of an open POET run file and what they achieved, as plain Python values:
    ``pairs_created``, ``transfers_accepted``, ``pairs_removed``, ``solved_score``,
    ``hardest_solved`` (None, or the pair's id, terrain, difficulty and best score) and ``pairs``
    (one dict per pair ever created, :func:`mpies.poet.summary.pair_summaries`)."""
    events, scores = poet_tables.read(f)
    summaries = pair_summaries(events, scores)
    threshold = solved_score(str(f.attrs["config"]))
    hardest = hardest_solved(summaries, threshold)
    pairs = [{k: (num(v) if isinstance(v, float) else v) for k, v in p.items()} for p in summaries]
    return {**_counts(events), "solved_score": threshold,
            "hardest_solved": None if hardest is None else
            {k: hardest[k] for k in ("pair_id", "describe", "difficulty", "terrain")}
            | {"best_score": num(hardest["best_score"])},
            "pairs": pairs}


def read_poet(path: str | os.PathLike) -> dict:
    """What the POET figure draws: ``pairs`` (:func:`mpies.poet.summary.pair_summaries`), the
    ``events`` and ``scores`` tables, ``history`` (the family's columns), ``counts``, ``env`` and
    ``solved_score``.

    Raises:
        RunFileError: not a run file, or no pair created yet.
    """
    path = os.fspath(path)
    with open_run(path) as f:
        events, scores = poet_tables.read(f)
        out = {"events": events, "scores": scores, "history": read_family_history(f),
               "env": str(f.attrs.get("env", "?")), "solved_score": solved_score(str(f.attrs["config"]))}
    out["pairs"] = pair_summaries(events, scores)
    if not out["pairs"]:
        raise RunFileError(f"{path}: no POET pairs in /poet/events yet (the run has not finished an "
                           f"iteration); nothing to draw")
    out["counts"] = _counts(events)
    return out
