"""POET's parameterised BipedalWalker terrain (Wang et al. 2019, uber-research/poet
``poet_distributed/niches/box2d/bipedal_walker_custom.py``) on gymnasium's BipedalWalker.

A terrain is ``(TerrainParams, terrain_seed)``: ground roughness, a pit gap range and a stump
height range (stairs are left out). Only the ground generation differs from BipedalWalker-v3;
observation (24,), action (4,), reward and the -100 on falling are BipedalWalker-v3's. The ground
comes from its own generator ``np.random.default_rng(terrain_seed)``, so the same
``(params, terrain_seed)`` always gives the same ground, whatever the seed given to ``reset``
(which still seeds the hull's initial push and the clouds).
"""

from __future__ import annotations

import math
import numpy as np
from gymnasium.envs.box2d.bipedal_walker import (
    SCALE, TERRAIN_GRASS, TERRAIN_HEIGHT, TERRAIN_LENGTH, TERRAIN_STARTPAD, TERRAIN_STEP,
    BipedalWalker)
from gymnasium.utils import EzPickle

from . import fresh_world
from .terrain_params import TerrainParams

MIN_STUMP_HEIGHT = 1e-4
"""Stumps drawn lower than this (TERRAIN_STEP units) are left out: Box2D rejects flat polygons."""


class BipedalTerrain(BipedalWalker):
    """BipedalWalker on the ground given by ``(params, terrain_seed)``; "hardcore" (obstacles
    between grass stretches) when any obstacle type is enabled. ``obstacles`` lists the enabled
    types in POET's order (``"stump"``, ``"pit"``); each obstacle is one of them, uniformly."""

    MAX_EPISODE_STEPS = 2000

    def __init__(self, params: TerrainParams = TerrainParams(), terrain_seed: int = 0,
                 render_mode=None):
        self.params = params
        self.terrain_seed = terrain_seed
        self.obstacles = [name for name, (_, hi) in (("stump", params.stump_height),
                                                     ("pit", params.pit_gap)) if hi > 0]
        super().__init__(render_mode=render_mode, hardcore=bool(self.obstacles))
        EzPickle.__init__(self, params, terrain_seed, render_mode)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """As BipedalWalker's, but in a fresh Box2D world: gymnasium reuses one world across
        resets, and the order in which Box2D recycles its bodies then makes an episode depend on
        the episodes played before it (measured: the same policy and seed gave 4.9 or -94.4)."""
        fresh_world(self)
        return super().reset(seed=seed, options=options)

    def _add_polygon(self, poly):
        self.fd_polygon.shape.vertices = poly
        t = self.world.CreateStaticBody(fixtures=self.fd_polygon)
        t.color1, t.color2 = (255, 255, 255), (153, 153, 153)
        self.terrain.append(t)

    def _generate_terrain(self, hardcore):
        rng = np.random.default_rng(self.terrain_seed)
        obstacles = self.obstacles if hardcore else []
        state, oneshot, counter = "grass", False, TERRAIN_STARTPAD
        velocity, y = 0.0, TERRAIN_HEIGHT
        original_y = pit_diff = 0.0
        self.terrain, self.terrain_x, self.terrain_y = [], [], []
        for i in range(TERRAIN_LENGTH):
            x = i * TERRAIN_STEP
            self.terrain_x.append(x)
            if state == "grass" and not oneshot:
                velocity = 0.8 * velocity + 0.01 * np.sign(TERRAIN_HEIGHT - y)
                if i > TERRAIN_STARTPAD:
                    velocity += rng.uniform(-1, 1) / SCALE
                y += self.params.roughness * velocity
            elif state == "pit" and oneshot:
                pit_gap = 1.0 + rng.uniform(*self.params.pit_gap)
                counter = math.ceil(pit_gap)
                pit_diff = counter - pit_gap
                poly = [(x, y), (x + TERRAIN_STEP, y), (x + TERRAIN_STEP, y - 4 * TERRAIN_STEP),
                        (x, y - 4 * TERRAIN_STEP)]
                self._add_polygon(poly)
                self._add_polygon([(px + TERRAIN_STEP * pit_gap, py) for px, py in poly])
                counter += 2
                original_y = y
            elif state == "pit":
                y = original_y
                if counter > 1:
                    y -= 4 * TERRAIN_STEP
                else:  # last pit step: pull the far edge back so fractional gaps work
                    self.terrain_x[-1] -= pit_diff * TERRAIN_STEP
            elif state == "stump" and oneshot:
                h = rng.uniform(*self.params.stump_height)
                if h >= MIN_STUMP_HEIGHT:
                    self._add_polygon([(x, y), (x + TERRAIN_STEP, y),
                                       (x + TERRAIN_STEP, y + h * TERRAIN_STEP),
                                       (x, y + h * TERRAIN_STEP)])
                counter = 1
            oneshot = False
            self.terrain_y.append(y)
            counter -= 1
            if counter == 0:
                counter = rng.integers(TERRAIN_GRASS // 2, TERRAIN_GRASS)
                if state == "grass" and obstacles:
                    state = obstacles[rng.integers(len(obstacles))]
                else:
                    state = "grass"
                oneshot = True

        self.terrain_poly = []
        for i in range(TERRAIN_LENGTH - 1):
            poly = [(self.terrain_x[i], self.terrain_y[i]),
                    (self.terrain_x[i + 1], self.terrain_y[i + 1])]
            self.fd_edge.shape.vertices = poly
            t = self.world.CreateStaticBody(fixtures=self.fd_edge)
            t.color1 = t.color2 = (76, 255 if i % 2 == 0 else 204, 76)
            self.terrain.append(t)
            poly += [(poly[1][0], 0), (poly[0][0], 0)]
            self.terrain_poly.append((poly, (102, 153, 76)))
        self.terrain.reverse()
