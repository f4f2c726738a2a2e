"""Every registered strategy runs through the driver, rank-count invariant and resume-exact."""

import h5py
import numpy as np
import pytest

from conftest import assert_bitwise_equal, load_result, run_mpies
from mpies.envs.functions import FUNCTIONS
from mpies import registry

STRATEGY_TABLES = {
    "openai_es": "population = 8\nsigma = 0.3\nlearning_rate = 0.2",
    "pgpe": "population = 8\nsigma = 0.3\nlearning_rate = 0.3\nmax_speed = 0.6",
    "ars": "population = 8\nsigma = 0.3\nlearning_rate = 0.3\ntop_directions = 2",
    "cem": "population = 8\nelite_fraction = 0.25\ninit_std = 1.0\ninit_mean = \"policy\"",
    "xnes": "sigma = 1.0",
    "snes": "sigma = 1.0",
    "cma_es": "sigma = 1.0",
    "cma_es-ipop": "sigma = 1.0\nrestarts = 3\ntolfun = 100.0",
    "cma_es-bipop": "population = 12\nsigma = 1.0\nrestarts = 3\nrestart_regime = \"bipop\"\ntolfun = 100.0",
    "sep_cma_es": "sigma = 1.0",
    "ga": "population = 8\ntruncation = 3\nsigma = 0.3",
    "lm_ma_es": "sigma = 1.0",
    "map_elites": "population = 8\nbins = [8, 8]\nsigma = 0.2\nqd_offset = -100.0",
    "map_elites-cvt": "population = 8\narchive = \"cvt\"\ncells = 30\nvariation = \"gaussian\"\nqd_offset = -100.0",
    "cma_me": "emitters = 3\nbatch = 4\nbins = [8, 8]\nsigma = 0.2\nqd_offset = -100.0",
    "cma_mae": "emitters = 3\nbatch = 4\nbins = [8, 8]\nsigma = 0.2\nqd_offset = -100.0\nthreshold_min = -100.0",
}
QD = ("map_elites", "cma_me", "cma_mae")


DYNAMIC = ("--set", "rollout.schedule=dynamic", "--set", "rollout.chunk=2")
"""Episodes claimed two at a time from a shared counter instead of dealt round-robin."""


def write_config(tmp_path, variant: str, generations: int):
    algorithm = variant.split("-")[0]
    env = 'env = "arm"\nenv_kwargs = {joints = 6}' if algorithm in QD else \
        'env = "fn:rastrigin"\nenv_kwargs = {dim = 6, x0 = 2.5}'
    path = tmp_path / f"{variant}.toml"
    path.write_text(f'algorithm = "{algorithm}"\n{env}\n'
                    f"generations = {generations}\nseed = 5\n"
                    f"[strategy]\n{STRATEGY_TABLES[variant]}\n"
                    "[noise]\ntable_size = 10000\n[rollout]\neval_every = 3\neval_episodes = 1\n"
                    "[output]\ncheckpoint_every = 4\n")
    return path


def test_every_registered_strategy_is_covered():
    assert {v.split("-")[0] for v in STRATEGY_TABLES} == {n for n, a in registry.algorithms().items() if a.strategy}


@pytest.mark.parametrize("variant", sorted(STRATEGY_TABLES))
def test_rank_count_invariance_and_exact_resume(tmp_path, variant):
    # IPOP needs 10 + 30 n / lambda generations of history before it can call a stall
    config = write_config(tmp_path, variant, generations=60 if variant.startswith("cma_es-") else 14)
    results = {}
    for ranks, schedule in ((1, []), (2, []), (4, DYNAMIC)):  # 4 ranks claim their episodes dynamically
        out = tmp_path / f"n{ranks}.h5"
        run_mpies(ranks, "run", config, "-o", out, *schedule)
        results[ranks] = load_result(out)
    assert_bitwise_equal(results[1], results[2])
    assert_bitwise_equal(results[1], results[4])
    # the search moved and improved, so equality means something
    if variant.split("-")[0] in QD:
        filled = results[1]["history/archive_filled"]
        assert filled[-1] > filled[0] > 0 and np.all(np.diff(results[1]["history/qd_score"]) >= 0)
        with h5py.File(tmp_path / "n1.h5", "r") as f:  # /archive holds the final archive
            assert f["archive/occupied"][()].sum() == filled[-1]
            assert f["archive"].attrs["kind"] == ("cvt" if variant.endswith("cvt") else "grid")
    else:
        assert not (results[1]["state/mean"] == 2.5).all()
        assert results[1]["history/fitness_max"].max() > -FUNCTIONS["rastrigin"](np.full(6, 2.5))
    if variant.startswith("cma_es-"):
        assert int(results[1]["state/strategy/restarts"]) >= 1

    resumed = tmp_path / "resumed.h5"
    run_mpies(2, "run", config, "-o", resumed, "--stop-after", "6" if not variant.startswith("cma_es-") else "37",
              *DYNAMIC, check_rc=75)
    run_mpies(4, "resume", resumed)
    assert_bitwise_equal(results[1], load_result(resumed))


def _in_process(config_path, out, **kwargs):
    """``mpies run`` in this process (one rank, no mpiexec)."""
    from mpies import config as config_mod, driver
    cfg = config_mod.load(str(config_path))
    cfg.output.path = str(out)
    return driver.run(cfg, log=lambda line: None, **kwargs)


@pytest.mark.parametrize("variant", sorted(STRATEGY_TABLES) + ["poet"])
def test_every_algorithm_runs_and_resumes_exactly_in_process(tmp_path, variant):
    from mpies import driver
    from conftest import POET_TINY
    if variant == "poet":
        config = tmp_path / "poet.toml"
        config.write_text(POET_TINY)
    else:
        config = write_config(tmp_path, variant, generations=60 if variant.startswith("cma_es-") else 10)
    generations = 6 if variant == "poet" else (60 if variant.startswith("cma_es-") else 10)
    straight = tmp_path / "straight.h5"
    assert _in_process(config, straight).status == "finished"
    pieces = tmp_path / "pieces.h5"
    stopped = _in_process(config, pieces, stop_after=3)
    assert (stopped.status, stopped.generation, stopped.exit_code) == ("preempted", 3, 75)
    done = driver.resume(pieces, log=lambda line: None)
    assert (done.status, done.generation) == ("finished", generations)
    a, b = load_result(straight), load_result(pieces)
    assert_bitwise_equal(a, b)
    assert int(a["next_generation"]) == generations
    with h5py.File(straight, "r") as f:
        family = str(f.attrs["history_family"])
        assert family == {"poet": "poet", "map_elites": "qd", "cma_me": "qd_emitters",
                          "cma_mae": "qd_emitters"}.get(variant.split("-")[0], "search")
        assert f["history"].shape == (generations,)
