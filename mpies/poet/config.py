"""POET's ``[strategy]`` table and its registry entry.

Kept apart from the loop (``mpies.poet.program``) so that reading a config imports neither
gymnasium nor Box2D.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError, option
from ..registry import Algorithm
from ..strategies.openai_es import OpenAIESConfig

TERRAIN_FEATURES = ("roughness", "pit_gap", "stump_height")


@dataclass
class POETConfig(OpenAIESConfig):
    """POET (Wang et al. 2019): environment-agent pairs, each improved by OpenAI-ES on its own rank
    subgroup; new terrains by mutation under a minimal criterion; transfers between pairs.
    The ES fields above are per pair; defaults are the reference code's."""

    population: int = option(512, "ES members per pair and iteration (even when mirrored)", min=2)
    sigma: float = option(0.1, "std of parameter perturbations", gt=0.0)
    sigma_decay: float = option(0.999, "sigma multiplied by this after every ES step", gt=0.0, max=1.0)
    sigma_min: float = option(0.01, "lower bound of sigma under decay", min=0.0)
    weight_decay: float = option(0.01, "L2 coefficient subtracted from the gradient", min=0.0)
    learning_rate_decay: float = option(0.9999, "learning rate multiplied by this after every ES step",
                                        gt=0.0, max=1.0)
    learning_rate_min: float = option(0.001, "lower bound of the learning rate under decay", min=0.0)
    transfer_every: int = option(25, "N_transfer: iterations between transfer attempts", min=1)
    mutate_every: int = option(200, "N_mutate: iterations between environment mutations", min=1)
    max_pairs: int = option(25, "active pairs at most; the oldest move to the archive (paper: 20)", min=1)
    repro_threshold: float = option(200.0, "a pair's environment may reproduce once its score reaches this")
    mc_lower: float = option(25.0, "minimal criterion: a child environment needs a score >= this (paper: 50)")
    mc_upper: float = option(340.0, "minimal criterion: ... and <= this (paper: 300)")
    max_children: int = option(8, "child environments tried per mutation step", min=1)
    max_admitted: int = option(1, "child environments admitted per mutation step", min=1)
    novelty_k: int = option(5, "novelty = mean distance to the k nearest archived environments", min=1)
    mutate: list[str] = option(list(TERRAIN_FEATURES), "terrain features that mutation changes",
                               choices=TERRAIN_FEATURES)
    roughness_step: float = option(0.6, "roughness += U(-step, step), rounded to 0.1", min=0.0)
    roughness_max: float = option(10.0, "largest roughness", min=0.0)
    pit_gap_init: list[float] = option([0.0, 0.8], "pit gap range when pits first appear (terrain steps)",
                                       min=0.0)
    pit_gap_step: float = option(0.4, "each end of the pit gap range moves by -step, 0 or +step", min=0.0)
    pit_gap_max: float = option(8.0, "largest pit gap (terrain steps)", min=0.0)
    stump_height_init: list[float] = option([0.0, 0.4], "stump height range when stumps first appear",
                                            min=0.0)
    stump_height_step: float = option(0.2, "each end of the stump height range moves by -step, 0 or +step",
                                      min=0.0)
    stump_height_max: float = option(5.0, "largest stump height (terrain steps)", min=0.0)
    solved_score: float = option(230.0, "a pair whose score reaches this has solved its terrain")
    initial_terrain: list[float] = option([0.0, 0.0, 0.0, 0.0, 0.0], "the first pair's terrain: [roughness, "
                                          "pit lo, pit hi, stump lo, stump hi] (flat by default)", min=0.0)
    initial_terrain_seed: int = option(-1, "the first terrain's seed (-1: derived from the run seed)", min=-1)

    def validate(self, run) -> None:
        if run.env != "bipedal_terrain":
            raise ConfigError(f"env: got {run.env!r}; algorithm = \"poet\" evolves BipedalWalker terrains: "
                              f"set env = \"bipedal_terrain\"")
        for name in ("pit_gap_init", "stump_height_init"):
            lo_hi = getattr(self, name)
            if len(lo_hi) != 2 or lo_hi[0] > lo_hi[1]:
                raise ConfigError(f"strategy.{name}: got {lo_hi}; expected [low, high] with low <= high")
        if self.optimizer != "adam":
            raise ConfigError(f"strategy.optimizer: got {self.optimizer!r}; POET pairs use \"adam\"")
        t = self.initial_terrain
        if len(t) != 5 or t[1] > t[2] or t[3] > t[4]:
            raise ConfigError(f"strategy.initial_terrain: got {t}; expected [roughness, pit lo, pit hi, "
                              f"stump lo, stump hi] with lo <= hi")
        if self.mc_lower > self.mc_upper:
            raise ConfigError(f"strategy.mc_lower: got {self.mc_lower}; must be <= strategy.mc_upper "
                              f"({self.mc_upper})")
        super().validate(run)


ALGORITHMS = (Algorithm("poet", POETConfig,
                        "POET: co-evolving BipedalWalker terrains and agents, OpenAI-ES per pair "
                        "on rank subgroups",
                        program="mpies.poet.program:POETProgram"),)
