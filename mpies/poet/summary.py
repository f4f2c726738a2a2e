"""What a POET run achieved, from its ``/poet`` tables: used by ``mpies inspect``, ``mpies plot``
and ``scripts/repro_poet.py``."""

from __future__ import annotations

import numpy as np

from ..envs.terrain_params import TerrainParams
from .terrains import DIFFICULTY_NAMES, difficulty


def pair_summaries(events: np.ndarray, scores: np.ndarray) -> list[dict]:
    """One dict per pair ever created, in creation order: id, parent, terrain, difficulty, created
    and removed iterations, latest and best score, and whether its score reached ``solved``."""
    pairs = {}
    for e in events[events["kind"] == b"created"]:
        params = TerrainParams.from_vector(e["terrain"])
        pairs[int(e["pair_id"])] = {
            "pair_id": int(e["pair_id"]), "parent_id": int(e["parent_id"]), "created_at": int(e["iteration"]),
            "removed_at": -1, "terrain": [float(v) for v in e["terrain"]], "terrain_seed": int(e["terrain_seed"]),
            "describe": params.describe(), "difficulty": DIFFICULTY_NAMES[difficulty(params)],
            "difficulty_level": difficulty(params), "score": float("nan"), "best_score": float("nan"),
            "transfers_in": 0}
    for e in events[events["kind"] == b"removed"]:
        pairs[int(e["pair_id"])]["removed_at"] = int(e["iteration"])
    for e in events[np.char.startswith(events["kind"], b"transfer")]:
        pairs[int(e["pair_id"])]["transfers_in"] += 1
    for pair_id, info in pairs.items():
        mine = scores[scores["pair_id"] == pair_id]
        if mine.size:
            info["score"] = float(mine["score"][-1])
            info["best_score"] = float(np.nanmax(mine["score"]))
    return list(pairs.values())


def hardest_solved(summaries: list[dict], solved_score: float) -> dict | None:
    """The solved pair (best score >= ``solved_score``) with the hardest terrain: most challenging
    thresholds met, then the largest terrain vector; None if no pair solved its terrain."""
    solved = [p for p in summaries if p["best_score"] >= solved_score]
    if not solved:
        return None
    return max(solved, key=lambda p: (p["difficulty_level"], float(np.linalg.norm(p["terrain"]))))
