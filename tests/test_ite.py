"""Intelligent Trial & Error: M-BOA's GP against a closed form, its first trial, its stop rule, a
damaged toy, and ``mpies adapt`` on a real MAP-Elites run file."""

import math
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import one_line_error, run_mpies, undocumented
from mpies.cli import adapt_cmd
from mpies.config import ConfigError
from mpies.io.adaptation import read_adaptation
from mpies.qd import ite
from mpies.tasks import ArmTask

# --------------------------------------------------------------------------- the GP


def closed_form(x_train, y_train, prior_train, x_query, prior_query, lo, hi, ell, noise, s2=1.0):
    """Textbook GP regression with prior mean P, written out independently of mpies.qd.ite:
    scalar Matérn 5/2 by its formula, an explicit inverse."""
    def scale(x):
        return (np.asarray(x, dtype=float) - lo) / (hi - lo)

    def k(a, b):
        r = abs(a - b) / ell
        return s2 * (1 + math.sqrt(5) * r + 5 * r * r / 3) * math.exp(-math.sqrt(5) * r)

    xt, xq = scale(x_train), scale(x_query)
    gram = np.array([[k(a, b) for b in xt] for a in xt]) + noise * np.eye(len(xt))
    inverse = np.linalg.inv(gram)
    cross = np.array([[k(a, b) for b in xt] for a in xq])  # (query, train)
    mean = prior_query + cross @ inverse @ (np.asarray(y_train) - prior_train)
    var = np.array([k(a, a) for a in xq]) - np.einsum("qt,ts,qs->q", cross, inverse, cross)
    return mean, var


def test_posterior_equals_closed_form_gp_on_1d_toy():
    rng = np.random.default_rng(0)
    lo, hi = -2.0, 2.0
    x = np.linspace(-1.9, 1.7, 9)
    prior = rng.normal(size=9)
    tested = np.array([1, 4, 4, 7])  # a cell tried twice is two observations
    measured = prior[tested] + np.array([-0.7, 0.3, 0.25, -1.1])
    config = ite.ITEConfig(length_scale=0.4, noise=1e-3)
    mu, sigma = ite.posterior(ite.normalize(x[:, None], [lo], [hi]), prior, tested, measured, config)
    mean, var = closed_form(x[tested], measured, prior[tested], x, prior, lo, hi, 0.4, 1e-3)
    np.testing.assert_allclose(mu, mean, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(sigma ** 2, var, rtol=1e-7, atol=1e-10)
    assert np.all(sigma[tested] < 0.05) and np.all(sigma[[0, 3, 8]] > 0.15)

    # other hyperparameters, and points that are not in the archive, through the GP itself
    gp = ite.GaussianProcess(length_scale=0.25, noise=0.05, signal_variance=2.0)
    xt, yt = np.array([-1.0, 0.2, 1.5]), np.array([0.4, -0.3, 1.0])
    gp.fit(ite.normalize(xt[:, None], [lo], [hi]), yt)
    query = np.array([-1.7, -1.0, 0.0, 0.9, 1.99])
    got_mean, got_var = gp.predict(ite.normalize(query[:, None], [lo], [hi]))
    mean, var = closed_form(xt, yt, 0.0, query, 0.0, lo, hi, 0.25, 0.05, s2=2.0)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got_var, var, rtol=1e-9, atol=1e-12)


def test_no_trial_posterior_is_the_prior_with_unit_std():
    x = np.random.default_rng(1).random((30, 3))
    prior = np.arange(30.0)
    mu, sigma = ite.posterior(x, prior, [], [], ite.ITEConfig())
    np.testing.assert_array_equal(mu, prior)
    np.testing.assert_array_equal(sigma, np.ones(30))


# --------------------------------------------------------------------------- M-BOA


def test_first_trial_is_the_best_prior_cell_first_among_ties():
    rng = np.random.default_rng(2)
    descriptors = rng.uniform(-3, 5, (50, 2))
    prior = rng.normal(size=50)
    prior[[17, 33]] = prior.max() + 1.0  # a tie: the first one wins
    seen = []
    result = ite.adapt(np.zeros((50, 4)), descriptors, prior, [-3, -3], [5, 5],
                       lambda row: seen.append(row) or prior[row], ite.ITEConfig(kappa=0.05),
                       on_trial=seen.append)
    first = result.records[0]
    assert first.cell == 17 and seen[0] == 17
    assert first.predicted_mean == prior[17] and first.predicted_std == 1.0
    assert first.acquisition == pytest.approx(prior[17] + 0.05)
    # the tested cell performs as predicted: the best is found at once
    assert result.stop_reason == ite.THRESHOLD and result.trials == 1 and result.best_cell == 17
    assert seen[1] is first  # on_trial got the record after the trial


def separated_cells(config_kwargs, real):
    """Four cells far apart relative to a tiny length scale: a trial barely informs the others."""
    prior = np.array([10.0, 9.0, 8.0, 7.0])
    descriptors = np.array([[0.0], [1 / 3], [2 / 3], [1.0]])
    config = ite.ITEConfig(length_scale=0.01, **config_kwargs)
    return ite.adapt(np.eye(4), descriptors, prior, [0.0], [1.0], lambda row: real[row], config)


def test_stop_rule_fires_at_the_right_trial():
    real = np.array([5.0, 8.5, 7.0, 0.0])
    result = separated_cells({}, real)
    # trial 1: cell 0 gives 5 (< 0.9 x 9, the next best prediction); trial 2: cell 1 gives 8.5,
    # now the highest prediction itself (8 for cell 2 is lower): 8.5 >= 0.9 x 8.5
    assert [r.cell for r in result.records] == [0, 1]
    assert [r.stop_reason for r in result.records] == ["", ite.THRESHOLD]
    assert result.records[0].max_mean == pytest.approx(9.0)
    assert result.records[1].max_mean == pytest.approx(8.5, abs=1e-2)
    assert result.best_cell == 1 and result.best_measured == 8.5
    np.testing.assert_array_equal(result.best_params, np.eye(4)[1])
    for r in result.records:  # the rule, as recorded
        assert (r.best_measured >= 0.9 * r.max_mean) == (r.stop_reason == ite.THRESHOLD)
    # an unreachable alpha: cell 1 (8.5 +- ~0.03) keeps the highest UCB over cell 2 (8 +- 1 with
    # kappa 0.05), so it is tried again (as in limbo) until the trials run out
    strict = separated_cells({"alpha": 1.5, "max_trials": 3}, real)
    assert [r.cell for r in strict.records] == [0, 1, 1]
    assert [r.stop_reason for r in strict.records] == ["", "", ite.MAX_TRIALS]
    assert strict.records[2].predicted_std < 0.05
    explore = separated_cells({"alpha": 1.5, "max_trials": 3, "kappa": 1.0}, real)
    assert [r.cell for r in explore.records] == [0, 1, 2]  # kappa 1: 8 + 1 beats 8.5 + 0.03
    assert strict.stop_reason == ite.MAX_TRIALS and strict.best_cell == 1


def test_max_trials_when_everything_disappoints_and_failed_trials():
    real = np.array([1.0, 1.0, 1.0, 1.0])
    result = separated_cells({"max_trials": 3}, real)
    assert [r.cell for r in result.records] == [0, 1, 2]
    assert result.stop_reason == ite.MAX_TRIALS and result.best_cell == 0  # first among ties
    failing = separated_cells({"max_trials": 2}, np.array([np.nan, 6.0, 1.0, 1.0]))
    assert math.isnan(failing.records[0].measured) and math.isnan(failing.records[0].best_measured)
    assert failing.records[1].cell == 1 and failing.best_cell == 1  # a failure never is the best
    every = separated_cells({"max_trials": 1}, np.full(4, np.nan))
    assert every.best_cell == -1 and math.isnan(every.best_measured) and every.best_params is None


def test_damaged_best_cell_makes_mboa_look_elsewhere():
    g = np.linspace(-1, 1, 20)
    descriptors = np.array([(a, b) for a in g for b in g])
    peak = np.array([0.5, 0.5])
    d2 = ((descriptors - peak) ** 2).sum(1)
    prior = 1 - 0.5 * d2
    real = prior - np.exp(-d2 / (2 * 0.3 ** 2))  # the damage ruins the gaits near the old best
    result = ite.adapt(descriptors, descriptors, prior, [-1, -1], [1, 1], lambda row: real[row])
    first = result.records[0]
    assert first.cell == int(np.argmax(prior)) and first.measured < 0.05
    assert result.stop_reason == ite.THRESHOLD and result.trials <= 5
    assert result.best_measured >= 0.9 * real.max()
    assert np.linalg.norm(descriptors[result.best_cell] - peak) > 0.4
    assert len({r.cell for r in result.records}) == result.trials  # no cell tried twice


def test_config_validation():
    with pytest.raises(ValueError, match="length_scale"):
        ite.ITEConfig(length_scale=0)
    with pytest.raises(ValueError, match="max_trials"):
        ite.ITEConfig(max_trials=0)
    with pytest.raises(ValueError, match="finite"):
        ite.adapt(np.zeros((2, 1)), np.zeros((2, 1)), [1.0, -np.inf], [0], [1], lambda r: 0.0)


# --------------------------------------------------------------------------- mpies adapt


class DamagedArm(ArmTask):
    """The planar arm with ``env_kwargs.damage = "joint=K"``: joint K is stuck straight (its angle
    is 0 whatever the parameters say); fitness is minus the variance of the angles it really has."""

    def __init__(self, config):
        kwargs = dict(config.env_kwargs)
        damage = kwargs.pop("damage", "")
        try:
            key, value = damage.split("=")
            assert key == "joint"
            self.joint = int(value)
        except (ValueError, AssertionError):
            raise ConfigError(f"env_kwargs.damage: got {damage!r}; expected joint=K") from None
        config.env_kwargs = kwargs
        super().__init__(config)
        if not 0 <= self.joint < self.num_params:
            raise ConfigError(f"env_kwargs.damage: joint {self.joint} out of range")

    def evaluate(self, params, seeds, normalizer=None, action_noise=0.0, collect_obs=False,
                 noise_stream=0, reward_shift=0.0):
        self.calls = getattr(self, "calls", 0) + 1
        return super().evaluate(damaged(params, self.joint), seeds, normalizer)


def damaged(params, joint):
    params = np.array(params, dtype=float)
    params[..., joint] = 0.0
    return params


@pytest.fixture(scope="module")
def arm_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("arm") / "arm.h5"
    run_mpies(None, "run", "arm-map-elites", "--set", "generations=20", "-o", path, timeout=60)
    return path


@pytest.fixture
def arm_file(arm_run, tmp_path):
    path = tmp_path / "arm.h5"
    shutil.copy(arm_run, path)
    return path


def invoke(*args):
    return CliRunner().invoke(adapt_cmd.adapt, [str(a) for a in args])



def test_adapt_command_on_a_real_map_elites_run(arm_file, monkeypatch):
    monkeypatch.setattr(adapt_cmd, "make_task", DamagedArm)
    with h5py.File(arm_file, "r") as f:
        occupied = f["archive/occupied"][()]
        fitness, params = f["archive/fitness"][()], f["archive/params"][()]
        descriptors = f["archive/descriptors"][()]
    result = invoke(arm_file, "--damage", "joint=3", "--max-trials", 5, "--seed", 7)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    trial_lines = [line for line in lines if line.startswith("trial ")]
    assert len(trial_lines) == 5  # fitness <= 0: the threshold cannot fire, all trials are spent
    assert any(line.startswith("note: ") for line in lines)
    assert "stopped after 5 trials (max_trials" in result.output
    assert "baseline: best undamaged elite" in result.output and "/adaptation/joint=3" in lines[-1]

    with h5py.File(arm_file, "r") as f:
        arrays, attrs = read_adaptation(f, "joint=3")
        assert f.attrs["status"] == "finished" and "archive" in f and f["history"].shape[0] == 20
    assert undocumented(arm_file) == []  # the trials too
    cells = arrays["cell"]
    assert cells.shape == (5,) and np.all(occupied[cells])
    first = int(np.argmax(fitness))  # the best undamaged elite is tried first, and is the baseline
    assert cells[0] == first and attrs["baseline_cell"] == first
    truth = np.array([-np.var(damaged(params[c], 3)) for c in cells])
    np.testing.assert_allclose(arrays["measured"], truth, rtol=1e-12)
    np.testing.assert_array_equal(arrays["descriptor"], descriptors[cells])
    assert arrays["predicted_mean"][0] == fitness[first] and arrays["predicted_std"][0] == 1.0
    assert arrays["max_predicted"].shape == (5,)
    assert attrs["baseline"] == pytest.approx(truth[0]) and attrs["baseline_prior"] == fitness[first]
    assert attrs["best_measured"] == truth.max() and attrs["best_cell"] == cells[np.argmax(truth)]
    assert attrs["damage"] == "joint=3" and attrs["stop_reason"] == "max_trials" and attrs["trials"] == 5
    assert (attrs["kappa"], attrs["length_scale"], attrs["alpha"], attrs["noise"],
            attrs["max_trials"], attrs["seed"]) == (0.05, 0.4, 0.9, 1e-3, 5, 7)
    for i, c in enumerate(cells):  # the printed lines are the stored trials
        assert f"cell {c:>6}" in trial_lines[i] and trial_lines[i].startswith(f"trial {i + 1:>3}")
        assert f"{arrays['measured'][i]:10.4g}" in trial_lines[i]

    # the same name is replaced, another name is added beside it
    assert invoke(arm_file, "--damage", "joint=3", "--max-trials", 2, "--kappa", 0.5).exit_code == 0
    assert invoke(arm_file, "--damage", "joint=0", "--name", "j0", "--max-trials", 1).exit_code == 0
    with h5py.File(arm_file, "r") as f:
        assert sorted(f["adaptation"]) == ["j0", "joint=3"]
        arrays, attrs = read_adaptation(f, "joint=3")
        assert arrays["cell"].shape == (2,) and attrs["kappa"] == 0.5
        assert read_adaptation(f, "j0")[1]["damage"] == "joint=0"


def test_adapt_command_errors_are_one_line(arm_file, tmp_path, monkeypatch):
    # the arm itself has no damages: the line names the task that has them
    one_line_error(invoke(arm_file, "--damage", "leg=1"), "--damage:", "'arm', which has no damages", "ant")
    monkeypatch.setattr(adapt_cmd, "make_task", DamagedArm)
    one_line_error(invoke(arm_file, "--damage", "leg=1"), "env_kwargs.damage", "joint=K")
    one_line_error(invoke(arm_file, "--damage", "joint=1", "--name", "a/b"), "--name")
    one_line_error(invoke(tmp_path / "missing.h5", "--damage", "joint=1"), "no such file")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    one_line_error(invoke(junk, "--damage", "joint=1"), "not an HDF5 file")

    no_archive = tmp_path / "es.h5"
    shutil.copy(arm_file, no_archive)
    with h5py.File(no_archive, "r+") as f:
        del f["archive"]
    one_line_error(invoke(no_archive, "--damage", "joint=1"), "no /archive", "MAP-Elites")

    live = tmp_path / "live.h5"
    shutil.copy(arm_file, live)
    with h5py.File(live, "r+") as f:
        f.attrs["status"] = "running"
    one_line_error(invoke(live, "--damage", "joint=1"), "still going", "wait")
    with h5py.File(arm_file, "r") as f:
        assert "adaptation" not in f  # nothing was written by any failed call
