"""Typed strategy state and the base class's tell: every registered strategy, in process (no MPI)."""

from dataclasses import dataclass

import numpy as np
import pytest

from mpies import config as cfg
from mpies import registry
from mpies.envs.functions import FUNCTIONS
from mpies.noise import CounterNoise, NoiseTable
from mpies.strategies import State
from mpies.strategies.base import best_first

DIM = 6
TABLES = {
    "openai_es": {"population": 8, "sigma": 0.3, "learning_rate": 0.2},
    "openai_es-sgd": {"population": 8, "sigma": 0.3, "optimizer": "sgd", "sigma_decay": 0.9},
    "cem": {"population": 8, "elite_fraction": 0.25, "init_std": 1.0, "init_mean": "policy"},
    "cma_es": {"sigma": 1.0},
    "cma_es-ipop": {"sigma": 1.0, "restarts": 3, "tolfun": 100.0},
    "sep_cma_es": {"sigma": 1.0},
    "ga": {"population": 8, "truncation": 3, "sigma": 0.3, "reevaluate_elite": False},
    "pgpe": {"population": 8, "sigma": 0.3, "learning_rate": 0.3, "max_speed": 0.6},
    "ars": {"population": 8, "sigma": 0.3, "learning_rate": 0.3, "top_directions": 2},
    "lm_ma_es": {"sigma": 1.0},
    "xnes": {"sigma": 1.0},
    "snes": {"sigma": 1.0},
    "cma_es-bipop": {"population": 12, "sigma": 1.0, "restarts": 3, "restart_regime": "bipop", "tolfun": 100.0},
    "map_elites": {"population": 8, "bins": [8, 8], "sigma": 0.2},
    "map_elites-cvt": {"population": 8, "archive": "cvt", "cells": 30, "variation": "gaussian"},
    "cma_me": {"emitters": 2, "batch": 4, "bins": [8, 8], "sigma": 0.2},
    "cma_me-separable": {"emitters": 2, "batch": 4, "bins": [8, 8], "sigma": 0.2, "covariance": "separable"},
    "cma_mae": {"emitters": 2, "batch": 4, "bins": [8, 8], "sigma": 0.2, "threshold_min": -10.0},
}
QD = {"map_elites": "qd", "cma_me": "qd_emitters", "cma_mae": "qd_emitters"}
"""Quality-diversity algorithms and their history family."""
SEARCH = sorted(v for v in TABLES if v.split("-")[0] not in QD)


def make(variant: str):
    algorithm = variant.split("-")[0]
    config = cfg.from_dict({"algorithm": algorithm, "strategy": TABLES[variant]}).strategy
    noise = NoiseTable(5, DIM, 10_000) if "cma" not in variant else CounterNoise(5, DIM)
    return registry.get(algorithm).strategy(config, np.full(DIM, 2.5), noise)


def arm(params):
    angles = np.clip(params, -np.pi, np.pi)
    cumulative = np.cumsum(angles)
    return -np.var(angles), np.array([np.cos(cumulative).sum(), np.sin(cumulative).sum()]) / DIM


def evaluate(es, population, generation):
    """Fitness (and descriptors for MAP-Elites) of every member; member 1 fails now and then."""
    params = [es.member_params(population, i) for i in range(population.size)]
    if es.uses_descriptors:
        rows = [arm(x) for x in params]
        fitness, descriptors = np.array([f for f, _ in rows]), np.array([d for _, d in rows])
    else:
        fitness, descriptors = np.array([-FUNCTIONS["rastrigin"](x) for x in params]), None
    if generation % 5 == 3:
        fitness[1] = np.nan
    return fitness, descriptors


def run(es, generations):
    for _ in range(generations):
        population = es.ask()
        es.tell(population, *evaluate(es, population, es.generation))
    return es


def test_every_registered_strategy_is_covered():
    assert {v.split("-")[0] for v in TABLES} == {n for n, a in registry.algorithms().items() if a.strategy}


@pytest.mark.parametrize("variant", sorted(TABLES))
def test_state_dict_round_trip_on_a_fresh_object_continues_bitwise(variant):
    generations = 40 if variant == "cma_es-ipop" else 12
    es = run(make(variant), generations)
    saved = es.state_dict()
    shapes = {k: (v.shape, v.dtype) for k, v in make(variant).state_dict().items()}
    assert {k: (v.shape, v.dtype) for k, v in saved.items()} == shapes  # fixed for the whole run
    resumed = make(variant)
    resumed.load_state_dict(saved)
    assert resumed.generation == es.generation == generations
    run(es, 15)
    run(resumed, 15)
    for k, v in es.state_dict().items():
        assert v.tobytes() == resumed.state_dict()[k].tobytes(), k
    assert es.mean.tobytes() == resumed.mean.tobytes()
    if variant == "cma_es-ipop":
        assert int(es.state.restarts) >= 1  # the round trip crossed or followed a restart


@pytest.mark.parametrize("variant", sorted(TABLES))
def test_state_arrays_are_updated_in_place_and_state_dict_copies(variant):
    es = make(variant)
    arrays = {k: id(v) for k, v in es.state.arrays().items()}
    run(es, 40 if variant == "cma_es-ipop" else 3)
    assert {k: id(v) for k, v in es.state.arrays().items()} == arrays
    saved = es.state_dict()
    for v in saved.values():
        v[...] = 0
    assert es.generation > 0 and int(saved["generation"]) == 0


@pytest.mark.parametrize("variant", sorted(TABLES))
def test_tell_checks_order_and_shapes_and_counts_generations(variant):
    es = make(variant)
    with pytest.raises(RuntimeError, match="last ask"):
        es.tell(object(), np.zeros(8))
    population = es.ask()
    with pytest.raises(RuntimeError, match="ask"):
        es.ask()
    fitness, descriptors = evaluate(es, population, 0)
    with pytest.raises(ValueError, match=rf"fitness has shape \({population.size + 1},\), "
                                         rf"expected \({population.size},\)"):
        es.tell(population, np.zeros(population.size + 1), descriptors)
    if es.uses_descriptors:
        with pytest.raises(TypeError, match="needs behaviour descriptors"):
            es.tell(population, fitness)
        with pytest.raises(ValueError, match="descriptors have shape"):
            es.tell(population, fitness, descriptors[:, :1])
    else:
        with pytest.raises(TypeError, match="takes no descriptors"):
            es.tell(population, fitness, np.zeros((population.size, 2)))
    assert es.generation == 0  # failed tells change nothing
    info = es.tell(population, fitness, descriptors)
    assert es.generation == 1
    with pytest.raises(RuntimeError, match="last ask"):
        es.tell(population, fitness, descriptors)  # told already
    expected = ({"archive_filled", "qd_score", "new_cells", "improved_cells"} if es.family.startswith("qd")
                else {"sigma", "update_norm"})
    if es.family == "qd_emitters":
        expected |= {"emitter_restarts", "sigma_mean"}
    assert expected <= set(info)


@pytest.mark.parametrize("variant", sorted(TABLES))
def test_class_attributes_of_the_driver_interface(variant):
    es = make(variant)
    qd = variant.split("-")[0] in QD
    assert es.family == QD.get(variant.split("-")[0], "search") and es.uses_descriptors == qd
    assert (es.archive is not None) == qd
    assert isinstance(es.state, State) and es.population_size == es.ask().size
    assert es.mean.shape == (DIM,) and es.mean.dtype == np.float64


def test_ipop_restart_keeps_arrays_and_shapes():
    es = make("cma_es-ipop")
    arrays = {k: id(v) for k, v in es.state.arrays().items()}
    sizes = {es.population_size}
    for _ in range(300):
        run(es, 1)
        sizes.add(es.population_size)
        if int(es.state.restarts) == 2:
            break
    assert sizes == {9, 18, 36}
    assert {k: id(v) for k, v in es.state.arrays().items()} == arrays
    assert int(es.state.restart_generation) == 0 and es.params.lam == es.population_size


def test_best_first_puts_failed_members_last_and_keeps_ties_in_order():
    fitness = np.array([1.0, np.nan, 3.0, 1.0, np.nan, -np.inf])
    assert best_first(fitness).tolist() == [2, 0, 3, 5, 1, 4]


@dataclass
class _Inner:
    a: np.ndarray


@dataclass
class _Outer(State):
    x: np.ndarray
    generation: np.ndarray
    inner: _Inner


def test_state_flattens_nested_names_and_loads_in_place():
    state = _Outer(np.arange(3.0), np.zeros((), np.int64), _Inner(np.ones((2, 2))))
    flat = state.to_dict()
    assert sorted(flat) == ["generation", "inner/a", "x"]
    assert not np.shares_memory(flat["x"], state.x)
    x = state.x
    state.load_dict({**flat, "x": np.full(3, 7.0)})
    assert state.x is x and np.all(x == 7.0)
    with pytest.raises(ValueError, match=r"'inner/a' has shape \(3,\), expected \(2, 2\)"):
        state.load_dict({**flat, "inner/a": np.zeros(3)})
    with pytest.raises(ValueError, match="lacks inner/a"):
        state.load_dict({"x": flat["x"], "generation": flat["generation"]})


def test_state_views_share_memory_and_copies_do_not():
    table = {"x": np.zeros((4, 3)), "generation": np.zeros(4, np.int64), "inner/a": np.zeros((4, 2, 2))}
    template = _Outer(np.zeros(3), np.zeros((), np.int64), _Inner(np.zeros((2, 2))))
    row = template.view({k: v[2, ...] for k, v in table.items()})
    row.x[...] = 1.0
    row.generation[...] = 5
    row.inner.a[...] = 2.0
    assert table["x"][2].tolist() == [1.0] * 3 and table["generation"][2] == 5 and table["inner/a"][2].sum() == 8
    assert not table["x"][[0, 1, 3]].any()
    twin = row.copy()
    twin.x[...] = 9.0
    assert table["x"][2, 0] == 1.0 and type(twin.inner) is _Inner
