"""POET: terrain mutation, novelty, groups, the pair table, and tiny runs under mpiexec."""

import re

import h5py
import numpy as np
import pytest

from conftest import POET_TINY, assert_bitwise_equal, load_result, run_mpies
from mpies import config as config_mod
from mpies.config import ConfigError
from mpies.envs.bipedal_terrain import TerrainParams
from mpies.noise import NoiseTable
from mpies.poet import terrains
from mpies.poet.groups import assign_groups
from mpies.poet.pairs import PairTable



def poet_config(**overrides):
    cfg = config_mod.from_dict({"algorithm": "poet", "env": "bipedal_terrain"})
    for key, value in overrides.items():
        setattr(cfg.strategy, key, value)
    return cfg.strategy


# ------------------------------------------------------------------ terrains
def test_first_mutation_of_flat_ground_switches_every_feature_on():
    child = terrains.mutate(TerrainParams(), poet_config(), np.random.default_rng(0))
    assert child.pit_gap == (0.0, 0.8) and child.stump_height == (0.0, 0.4)
    assert 0.0 <= child.roughness <= 0.6 and round(child.roughness, 1) == child.roughness


def test_later_mutations_move_range_ends_by_steps_within_bounds():
    cfg, rng = poet_config(), np.random.default_rng(1)
    parent = TerrainParams(4.0, (3.2, 7.6), (1.0, 4.8))
    for _ in range(200):
        child = terrains.mutate(parent, cfg, rng)
        moves = np.subtract(child.pit_gap, parent.pit_gap)
        assert child.pit_gap[1] <= cfg.pit_gap_max and child.stump_height[1] <= cfg.stump_height_max
        assert child.pit_gap[0] <= child.pit_gap[1]
        assert np.all(np.isclose(np.abs(moves), 0.4) | np.isclose(moves, 0.0) | (child.pit_gap[1] == 8.0))
        assert child.pit_gap != parent.pit_gap and child.stump_height != parent.stump_height
        assert abs(child.roughness - parent.roughness) <= 0.6 + 0.05


def test_mutate_only_named_features():
    child = terrains.mutate(TerrainParams(1.0), poet_config(mutate=["roughness"]), np.random.default_rng(2))
    assert child.pit_gap == (0.0, 0.0) and child.stump_height == (0.0, 0.0)


def test_novelty_is_mean_distance_to_k_nearest():
    archive = np.array([[0, 0, 0, 0, 0], [1, 0, 0, 0, 0], [3, 0, 0, 0, 0], [10, 0, 0, 0, 0]], dtype=float)
    assert terrains.novelty(np.zeros(5), archive, 2) == pytest.approx(0.5)
    assert terrains.novelty(np.zeros(5), archive, 5) == pytest.approx(14 / 4)  # fewer than k: all


def test_difficulty_counts_the_papers_thresholds():
    assert terrains.difficulty(TerrainParams(4.4, (0, 5.9), (0, 2.3))) == 0
    assert terrains.difficulty(TerrainParams(4.5, (0, 1), (0, 1))) == 1
    assert terrains.difficulty(TerrainParams(5.0, (0, 6.0), (0, 2.4))) == 3


# ------------------------------------------------------------------ groups and pairs
@pytest.mark.parametrize("ranks,pairs", [(1, 3), (2, 3), (4, 2), (4, 3), (16, 5), (3, 1)])
def test_groups_are_consecutive_ranks_and_cover_every_pair(ranks, pairs):
    group_of_rank, group_of_pair = assign_groups(ranks, pairs)
    groups = min(ranks, pairs)
    assert sorted(set(group_of_rank)) == list(range(groups)) == sorted(set(group_of_pair))
    assert group_of_rank == sorted(group_of_rank)  # consecutive ranks
    sizes = [group_of_rank.count(g) for g in range(groups)]
    assert max(sizes) - min(sizes) <= 1


def test_pair_table_es_step_writes_the_slot_in_place_and_retires_the_oldest():
    cfg = poet_config(population=4, max_pairs=2)
    noise = NoiseTable(0, 10, 4096)
    table = PairTable(3, 10, cfg)
    first = table.add(TerrainParams(), 5, np.zeros(10), 0)
    second = table.add(TerrainParams(1.0), 6, np.ones(10), 2, parent_id=first)
    slot = table.slots()[1]
    es = table.strategy(slot, noise)
    assert np.shares_memory(es.mean, table.state["theta"]) and es.state is table.es_state(slot)
    population = es.ask()
    es.tell(population, np.arange(4.0))
    table.stepped(slot)
    # no copy back: the table's rows are the ES state
    assert not np.array_equal(table.state["theta"][slot], np.ones(10))
    np.testing.assert_array_equal(table.state["theta"][slot], es.mean)
    assert table.state["generation"][slot] == 1 and table.state["optimizer/t"][slot] == 1
    np.testing.assert_array_equal(table.state["optimizer/m"][slot], es.state.optimizer.m)
    assert table.sigma(slot) == es.sigma == cfg.sigma * cfg.sigma_decay
    assert table.state["learning_rate"][slot] == pytest.approx(cfg.learning_rate * cfg.learning_rate_decay)
    np.testing.assert_array_equal(table.theta(table.slots()[0]), np.zeros(10))  # the other pair is untouched
    other = table.strategy(table.slots()[0], noise)  # another pair draws other keys
    assert not np.array_equal(other.ask().keys, table.strategy(slot, noise).ask().keys)
    table.remove(table.slots()[0])
    assert [table.pair_id(s) for s in table.slots()] == [second]
    assert table.archive().shape == (2, 5)  # retired terrains stay in the archive


def test_proposals_get_a_fresh_state_and_transfers_reset_the_optimizer():
    cfg = poet_config(population=4)
    noise = NoiseTable(0, 10, 4096)
    table = PairTable(2, 10, cfg)
    table.add(TerrainParams(), 5, np.zeros(10), 0)
    slot = table.slots()[0]
    for _ in range(2):
        es = table.strategy(slot, noise)
        es.tell(es.ask(), np.arange(4.0))
        table.stepped(slot)
    before = table.state_dict()
    proposal = table.strategy(slot, noise, theta=np.full(10, 3.0), salt=(2, 0, 1, 7))
    assert not np.shares_memory(proposal.mean, table.state["theta"])
    assert proposal.generation == 2 and proposal.sigma == table.sigma(slot)
    np.testing.assert_array_equal(proposal.state.optimizer.v, table.state["optimizer/v"][slot])
    proposal.tell(proposal.ask(), np.arange(4.0))
    for k, v in table.state_dict().items():  # the table did not move
        assert v.tobytes() == before[k].tobytes(), k
    table.replace_agent(slot, np.full(10, 3.0))
    np.testing.assert_array_equal(table.theta(slot), np.full(10, 3.0))
    assert table.state["optimizer/t"][slot] == 0 and not table.state["optimizer/m"][slot].any()
    assert table.state["generation"][slot] == 2  # sigma, learning rate and step count stay
    assert table.state["learning_rate"][slot] == before["learning_rate"][slot]


def test_pair_table_checkpoint_loads_in_place_with_fixed_shapes():
    cfg = poet_config(population=4)
    noise = NoiseTable(0, 10, 4096)
    table = PairTable(3, 10, cfg)
    table.add(TerrainParams(), 5, np.zeros(10), 0)
    es = table.strategy(table.slots()[0], noise)
    es.tell(es.ask(), np.arange(4.0))
    saved = table.state_dict()
    shapes = {k: v.shape for k, v in saved.items()}
    assert shapes["theta"] == (3, 10) and shapes["optimizer/m"] == (3, 10) and shapes["sigma"] == (3,)
    fresh = PairTable(3, 10, cfg)
    views = fresh.es_state(0)
    fresh.load_state_dict(saved)
    assert fresh.es_state(0) is views and views.theta.tobytes() == saved["theta"][0].tobytes()
    a, b = table.strategy(0, noise), fresh.strategy(0, noise)
    for es in (a, b):
        es.tell(es.ask(), np.sin(np.arange(4.0)))
    assert a.mean.tobytes() == b.mean.tobytes()
    with pytest.raises(ValueError, match="shape"):
        PairTable(2, 10, cfg).load_state_dict(saved)


@pytest.mark.parametrize("field,value,words", [
    ("env", "CartPole-v1", "bipedal_terrain"),
    ("strategy.mc_lower", 400.0, "mc_upper"),
    ("strategy.initial_terrain", [1.0, 2.0, 1.0, 0.0, 0.0], "lo <= hi"),
    ("strategy.optimizer", "sgd", "adam"),
])
def test_bad_poet_configs_name_the_field(field, value, words):
    data = {"algorithm": "poet", "env": "bipedal_terrain", "strategy": {}}
    if field == "env":
        data["env"] = value
    else:
        data["strategy"][field.split(".")[1]] = value
    with pytest.raises(ConfigError, match=re.escape(field.split(".")[-1])) as info:
        config_mod.from_dict(data)
    assert words in str(info.value)


# ------------------------------------------------------------------ runs under mpiexec
@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """The same tiny POET run on 4, 2 and 1 ranks, and one stopped on 2 ranks, resumed on 4; the
    2-rank runs claim their episodes dynamically (``rollout.schedule``), the others are dealt them."""
    root = tmp_path_factory.mktemp("poet")
    config = root / "poet.toml"
    config.write_text(POET_TINY)
    dynamic = ("--set", "rollout.schedule=dynamic")
    runs = {}
    for ranks in (4, 2, 1):
        proc = run_mpies(ranks, "run", config, "-o", root / f"r{ranks}.h5", *(dynamic if ranks == 2 else ()),
                         timeout=300)
        runs[ranks] = (root / f"r{ranks}.h5", proc.stdout)
    run_mpies(2, "run", config, "-o", root / "resumed.h5", "--stop-after", "3", *dynamic, check_rc=75, timeout=300)
    run_mpies(4, "resume", root / "resumed.h5", timeout=300)
    runs["resumed"] = (root / "resumed.h5", "")
    return runs


def test_tiny_run_creates_terrains_and_accepts_transfers(tiny_runs):
    path, _ = tiny_runs[4]
    with h5py.File(path, "r") as f:
        events = f["poet/events"][()]
        assert (events["kind"] == b"created").sum() >= 2  # the flat start and at least one child
        assert np.char.startswith(events["kind"], b"transfer").sum() >= 1
        children = events[(events["kind"] == b"created") & (events["parent_id"] >= 0)]
        assert np.all(children["terrain"][:, 0] > 0) or np.all(children["terrain"][:, 2] > 0)
        assert len(f["poet/pairs"]) >= 2 and f["poet/pairs/0/theta"].shape == (2804,)
        scores = f["poet/scores"][()]
        assert set(scores["pair_id"]) == set(events["pair_id"][events["kind"] == b"created"])


def test_pairs_run_on_distinct_subgroups(tiny_runs):
    _, stdout = tiny_runs[4]
    layouts = [line for line in stdout.splitlines() if line.startswith("subgroups")]
    assert len(layouts) >= 2  # rebuilt when pairs were added
    assert "pairs 0 on ranks 0-3" in layouts[0]
    split = [line for line in layouts if line.count("on ranks") >= 2]
    assert split, layouts
    ranges = re.findall(r"on ranks (\d+)-(\d+)", split[0])
    covered = [r for lo, hi in ranges for r in range(int(lo), int(hi) + 1)]
    assert sorted(covered) == [0, 1, 2, 3]  # disjoint groups covering the world


def test_poet_is_bitwise_identical_on_1_2_4_ranks_and_after_resume(tiny_runs):
    reference = load_result(tiny_runs[4][0])
    with h5py.File(tiny_runs[4][0], "r") as f:
        ref_tables = f["poet/events"][()].tobytes(), f["poet/scores"][()].tobytes()
    for key in (2, 1, "resumed"):
        assert_bitwise_equal(reference, load_result(tiny_runs[key][0]))
        with h5py.File(tiny_runs[key][0], "r") as f:
            assert (f["poet/events"][()].tobytes(), f["poet/scores"][()].tobytes()) == ref_tables, key
