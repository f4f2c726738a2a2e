"""The parameters of a POET terrain, without Box2D: run files, summaries and plots read them on
machines that have no ``mpies[box2d]``; :mod:`.bipedal_terrain` builds the ground from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TerrainParams:
    """Terrain parameters. ``roughness`` scales the grass's height changes (0 = flat ground,
    1 = BipedalWalker-v3's ground). ``pit_gap`` and ``stump_height`` are ``(lo, hi)`` ranges in
    TERRAIN_STEP units (14/30 m): a pit is ``1 + U(lo, hi)`` steps wide and 4 steps deep, a stump
    is 1 step wide and ``U(lo, hi)`` steps high. An obstacle type is enabled when its ``hi > 0``."""

    roughness: float = 0.0
    pit_gap: tuple[float, float] = (0.0, 0.0)
    stump_height: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self):
        if not (np.isfinite(self.roughness) and self.roughness >= 0):
            raise ValueError(f"roughness: must be finite and >= 0, got {self.roughness!r}")
        object.__setattr__(self, "roughness", float(self.roughness))
        for name in ("pit_gap", "stump_height"):
            value = getattr(self, name)
            if len(value) != 2:
                raise ValueError(f"{name}: must be a (lo, hi) pair, got {value!r}")
            lo, hi = float(value[0]), float(value[1])
            if not (np.isfinite(lo) and np.isfinite(hi) and lo >= 0 and hi >= 0):
                raise ValueError(f"{name}: bounds must be finite and >= 0, got {value!r}")
            if lo > hi:
                raise ValueError(f"{name}: lo > hi in {value!r}")
            object.__setattr__(self, name, (lo, hi))

    def vector(self) -> np.ndarray:
        """float64 (5,): ``[roughness, pit lo, pit hi, stump lo, stump hi]``."""
        return np.array([self.roughness, *self.pit_gap, *self.stump_height], dtype=np.float64)

    @classmethod
    def from_vector(cls, v) -> TerrainParams:
        """Inverse of :meth:`vector`."""
        r, p0, p1, s0, s1 = np.asarray(v, dtype=np.float64).reshape(5)
        return cls(r, (p0, p1), (s0, s1))

    def describe(self) -> str:
        """One line such as ``rough 1.2 pit 0.4-1.2 stump 0.2-0.8`` (disabled obstacles omitted)."""
        parts = [f"rough {self.roughness:g}"]
        for label, (lo, hi) in (("pit", self.pit_gap), ("stump", self.stump_height)):
            if hi > 0:
                parts.append(f"{label} {lo:g}-{hi:g}")
        return " ".join(parts)
