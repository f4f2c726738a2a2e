"""POET's part of a run file, written by rank 0 next to ``/history``::

    /poet/events       one row per creation, transfer and removal (EVENT_DTYPE), appended each iteration
    /poet/scores       one row per pair per iteration (SCORE_DTYPE): the pair's score and ES statistics
    /poet/pairs/<id>   per pair ever checkpointed: attrs terrain (5,), terrain_seed, parent_id,
                       created_at, active; datasets theta (the agent at the last checkpoint) and
                       history (iteration, score) of the pair, copied from /poet/scores

Iterations are counted as the history's ``generation``: 1 for the first, so an event of iteration
``t`` belongs to the history row ``generation == t``; the first pair is created at iteration 0,
before any. Every dataset carries ``doc`` and ``units`` attributes (the tables per column).

The checkpoint itself (every pair's parameters and optimiser state) is in ``/state``. Each
function takes the run file opened by :class:`mpies.io.RunWriter` (its one write of a generation).
"""

from __future__ import annotations

import h5py
import numpy as np

from .schema import Column, columns_dtype
from .writer import document_columns, write_datasets


EVENT_COLUMNS = (
    Column("iteration", np.int64, "iterations", "iteration of the event, from 1 (0: the first pair, before any)"),
    Column("kind", "S20", "1", "created | transfer_direct | transfer_proposal | removed"),
    Column("pair_id", np.int64, "1", "the pair created, receiving a transfer, or removed"),
    Column("source_id", np.int64, "1", "created: the agent that came along; transfer: the agent sent; else -1"),
    Column("parent_id", np.int64, "1", "created: the pair whose terrain was mutated; else -1"),
    Column("score", np.float64, "return", "the new agent's return on the pair's terrain (NaN for removals)"),
    Column("terrain", (np.float64, (5,)), "terrain", "the pair's terrain vector (TerrainParams.vector)"),
    Column("terrain_seed", np.int64, "1", "seed of the pair's terrain"),
)
SCORE_COLUMNS = (
    Column("iteration", np.int64, "iterations", "iteration, from 1"),
    Column("pair_id", np.int64, "1", "the pair"),
    Column("score", np.float64, "return", "return of the pair's agent on its terrain, before the iteration's ES step"),
    Column("fitness_max", np.float64, "return", "best member of the pair's ES population this iteration"),
    Column("sigma", np.float64, "1", "the pair's perturbation std this iteration"),
)


EVENT_DTYPE = columns_dtype(EVENT_COLUMNS)
SCORE_DTYPE = columns_dtype(SCORE_COLUMNS)
PAIR_DOCS = {"theta": ("the pair's agent at this checkpoint, float64 (num_params,)", "1"),
             "history": ("(iteration, score) rows of the pair, from /poet/scores", "iterations, return")}
TABLE_DOCS = {"events": ("one row per pair creation, transfer and removal", EVENT_COLUMNS),
              "scores": ("one row per pair per iteration", SCORE_COLUMNS)}


def create(f: h5py.File) -> None:
    """Empty ``/poet/events`` and ``/poet/scores`` in a new run file (later appends are SWMR-safe)."""
    group = f.create_group("poet")
    for name, dtype in (("events", EVENT_DTYPE), ("scores", SCORE_DTYPE)):
        data = group.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(256,))
        document_columns(data, *TABLE_DOCS[name])


def append(f: h5py.File, events: list[tuple], scores: list[tuple]) -> None:
    """Append event and score rows (tuples in the dtypes' field order)."""
    for name, rows, dtype in (("events", events, EVENT_DTYPE), ("scores", scores, SCORE_DTYPE)):
        if rows:
            data = f["poet"][name]
            n = data.shape[0]
            data.resize((n + len(rows),))
            data[n:] = np.array(rows, dtype=dtype)


def write_pairs(f: h5py.File, pairs) -> None:
    """(Re)write ``/poet/pairs/<id>`` for every active pair of a PairTable; mark retired ones."""
    s = pairs.state
    group = f.require_group("poet/pairs")
    scores = f["poet/scores"][()]
    active = set()
    for slot in pairs.slots():
        pair_id = pairs.pair_id(slot)
        active.add(str(pair_id))
        g = group.require_group(str(pair_id))
        for name in ("theta", "history"):
            if name in g:
                del g[name]
        write_datasets(g, {"theta": pairs.theta(slot),
                           "history": np.stack([scores["iteration"], scores["score"]], axis=1)[scores["pair_id"] == pair_id]},
                       PAIR_DOCS)
        g.attrs.update(terrain=s["terrain"][slot], terrain_seed=s["terrain_seed"][slot],
                       parent_id=s["parent_id"][slot], created_at=s["created_at"][slot], active=True)
    for name in group:
        if name not in active:
            group[name].attrs["active"] = False


def truncate(f: h5py.File, iterations: int) -> None:
    """Drop rows of iterations > ``iterations`` (written after the checkpoint a resume starts from)."""
    for name in ("events", "scores"):
        data = f["poet"][name]
        keep = int(np.searchsorted(data["iteration"][()], iterations, side="right"))
        data.resize((keep,))


def read(f: h5py.File) -> tuple[np.ndarray, np.ndarray]:
    """``(events, scores)`` structured arrays of an open run file (empty if none yet)."""
    events = f["poet/events"][()] if "poet/events" in f else np.zeros(0, EVENT_DTYPE)
    scores = f["poet/scores"][()] if "poet/scores" in f else np.zeros(0, SCORE_DTYPE)
    return events, scores
