"""The Cully et al. legged-robot task on MuJoCo Ant-v5: controller signal against the reference
controller, determinism, fitness and descriptor, a walking gait, damages, configuration errors."""

import math

import numpy as np
import pytest

pytest.importorskip("mujoco")

from mpies import config as cfg  # noqa: E402
from mpies.config import ConfigError  # noqa: E402
from mpies.envs.ant import DAMAGES, control_signals, parse_damage  # noqa: E402
from mpies.tasks import AntGaitTask  # noqa: E402


def make(**env_kwargs) -> AntGaitTask:
    return AntGaitTask(cfg.from_dict({"env": "ant", "env_kwargs": env_kwargs}))


def reference_signal(amplitude, phase, duty_cycle, array_dim=100):
    """Cully's C++ ``_control_signal`` (hexapod controller), transcribed loop for loop."""
    temp = [0.0] * array_dim
    up_time = int(array_dim * duty_cycle)
    for i in range(array_dim):
        temp[i] = amplitude if i < up_time else -amplitude
    kernel_size = array_dim // 10
    sigma = kernel_size // 3  # integer division in the C++ source
    kernel = [math.exp(-(i - kernel_size) ** 2 / (2 * sigma * sigma)) / (sigma * math.sqrt(math.pi))
              for i in range(2 * kernel_size + 1)]
    total = sum(kernel)
    command = []
    for i in range(array_dim):
        c = sum(temp[(i - d) % array_dim] * kernel[kernel_size - d] for d in range(1, kernel_size + 1))
        c += temp[i] * kernel[kernel_size]
        c += sum(temp[(i + d) % array_dim] * kernel[kernel_size + d] for d in range(1, kernel_size + 1))
        command.append(c / total)
    start = math.floor(array_dim * phase)
    return np.array(command[start:] + command[:start])


@pytest.fixture(scope="module")
def task():
    t = make()
    yield t
    t.close()


@pytest.fixture(scope="module")
def random_gaits(task):
    """30 random gaits (fixed seed) and their evaluations."""
    params = np.random.default_rng(0).random((30, task.num_params))
    return params, [task.evaluate(p, [0]) for p in params]


@pytest.fixture(scope="module")
def good_gait(random_gaits):
    params, results = random_gaits
    best = int(np.argmax([r.fitness for r in results]))
    return params[best], results[best]


# --- controller ------------------------------------------------------------------------------

def test_signal_matches_the_reference_controller():
    rng = np.random.default_rng(5)
    rows = np.vstack([rng.random((40, 3)), [[1, 0, 0], [1, 0.999, 1], [0.5, 1.0, 0.5], [0, 0.3, 0.7],
                                            [1, 0.25, 0.01], [0.7, 0.5, 0.995]]])
    signals = control_signals(rows)
    assert signals.shape == (len(rows), 100)
    for row, signal in zip(rows, signals):
        np.testing.assert_allclose(signal, reference_signal(*row), atol=1e-12)
    assert np.abs(signals).max() <= 1.0 + 1e-12


def test_params_are_clipped_into_the_unit_interval(task):
    rng = np.random.default_rng(1)
    wild = rng.normal(0.5, 1.5, task.num_params)
    np.testing.assert_array_equal(control_signals(wild), control_signals(np.clip(wild, 0, 1)))
    a, b = task.evaluate(wild, [0]), task.evaluate(np.clip(wild, 0, 1), [0])
    assert a.fitness == b.fitness and np.array_equal(a.descriptor, b.descriptor)


def test_targets_stay_inside_joint_ranges(task):
    targets = task.env.targets(np.random.default_rng(2).random(task.num_params))
    joints = task.env.joint_ids.ravel()
    lo, hi = task.env.model.jnt_range[joints].T
    assert targets.shape == (8, 100)
    assert (targets >= lo[:, None] - 1e-12).all() and (targets <= hi[:, None] + 1e-12).all()


# --- interface, determinism, fitness, descriptor ---------------------------------------------

def test_interface(task):
    assert (task.num_params, task.obs_dim, task.descriptor_dim) == (24, 0, 4)
    assert task.DESCRIPTOR_BOUNDS == (0.0, 1.0)
    assert set(DAMAGES) == {"none", "leg=K", "locked=K", "weak=K"}
    init = task.initial_params(np.random.default_rng(0))
    assert init.shape == (24,) and ((init >= 0) & (init <= 1)).all()


def test_evaluation_is_deterministic_and_ignores_seeds(task, random_gaits):
    params, results = random_gaits
    again = task.evaluate(params[3], [12345, 7], action_noise=0.0, noise_stream=9)  # after other episodes
    other = make()
    fresh = other.evaluate(params[3], [0])
    other.close()
    for e in (again, fresh):
        assert e.fitness == results[3].fitness
        np.testing.assert_array_equal(e.descriptor, results[3].descriptor)
    assert (again.length, again.steps) == (100.0, 100)  # 5 s of 0.05 s Ant-v5 steps


def test_descriptor_is_a_contact_fraction_per_foot_and_varies(random_gaits):
    _, results = random_gaits
    descriptors = np.array([r.descriptor for r in results])
    assert descriptors.shape == (30, 4)
    assert np.isfinite(descriptors).all() and (descriptors >= 0).all() and (descriptors <= 1).all()
    assert len({tuple(d) for d in descriptors}) > 20  # different gaits, different footprints
    assert (descriptors.max(axis=0) - descriptors.min(axis=0) > 0.2).all()


def test_zero_amplitude_stands_still(task):
    e = task.evaluate(np.zeros(24), [0])
    assert abs(e.fitness) < 1e-3
    assert (e.descriptor > 0.9).all()  # standing on its four feet (after the initial drop)
    np.testing.assert_allclose(e.descriptor, e.descriptor[0])  # the model is symmetric


def test_random_search_finds_a_walking_gait(task, good_gait, random_gaits):
    still = task.evaluate(np.zeros(24), [0]).fitness
    _, best = good_gait
    assert best.fitness > still + 0.5  # meters in 5 s
    assert np.median([r.fitness for r in random_gaits[1]]) < best.fitness - 0.5


def test_duration_sets_the_episode_length():
    short = make(duration=1.0)
    e = short.evaluate(np.full(24, 0.5), [0])
    short.close()
    assert (e.length, e.steps) == (20.0, 20)


def test_failed_member_for_non_finite_params_and_shape_errors(task):
    p = np.full(24, 0.5)
    p[4] = np.nan
    e = task.evaluate(p, [0])
    assert np.isnan(e.fitness) and np.isnan(e.descriptor).all() and e.steps == 0
    with pytest.raises(ValueError, match="24 parameters"):
        task.evaluate(np.zeros(23), [0])


# --- damage ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["leg", "locked", "weak"])
def test_each_damage_changes_a_good_gait(kind, good_gait):
    params, intact = good_gait
    distances = []
    for leg in range(4):
        damaged_task = make(damage=f"{kind}={leg}")
        damaged = damaged_task.evaluate(params, [0])
        damaged_task.close()
        assert np.isfinite(damaged.fitness)
        assert damaged.fitness != intact.fitness
        assert not np.array_equal(damaged.descriptor, intact.descriptor)
        if kind == "leg":
            assert damaged.descriptor[leg] == 0.0  # the removed foot never touches the floor
        distances.append(damaged.fitness)
    assert np.mean(distances) < intact.fitness - 0.3  # on average a damage slows the best gait


def test_damage_edits_the_model(good_gait):
    intact = make()
    gear = intact.env.model.actuator_gear[:, 0].copy()
    intact.close()
    assert (gear == 150).all()
    leg_joint = lambda t, leg: t.env.actuator_of[2 * leg:2 * leg + 2]  # noqa: E731

    removed = make(damage="leg=1")
    m = removed.env.model
    assert (m.actuator_gear[leg_joint(removed, 1), 0] == 0).all()
    gone = [g for g in range(m.ngeom) if m.geom_bodyid[g] in removed.env.leg_bodies[1]]
    assert len(gone) == 3 and (m.geom_contype[gone] == 0).all() and (m.geom_conaffinity[gone] == 0).all()
    removed.close()

    weak = make(damage="weak=2")
    np.testing.assert_allclose(weak.env.model.actuator_gear[leg_joint(weak, 2), 0], 45.0)
    assert (np.delete(weak.env.model.actuator_gear[:, 0], leg_joint(weak, 2)) == 150).all()
    weak.close()

    locked = make(damage="locked=3")
    env = locked.env
    m, d = env.model, env.data
    assert (m.actuator_gear[leg_joint(locked, 3), 0] == 0).all()
    # run the good gait by hand and watch the locked joints: they hold the standing posture
    import mujoco
    params, _ = good_gait
    controls = env.controls(params)
    assert controls.shape == (100 * 5, m.nu)  # 5 s of 0.01 s physics steps
    env.reset()
    worst = 0.0
    for row in controls:
        d.ctrl[:] = row
        mujoco.mj_step(m, d)
        worst = max(worst, np.abs(d.qpos[env.locked_qpos] - env.locked_value).max())
    assert worst < 0.02
    locked.close()


def test_damages_combine_over_legs():
    assert parse_damage("leg=0, weak=2") == {0: "leg", 2: "weak"}
    both = make(damage="leg=0,leg=3")
    e = both.evaluate(np.full(24, 0.5), [0])
    both.close()
    assert e.descriptor[0] == 0.0 and e.descriptor[3] == 0.0


@pytest.mark.parametrize("damage", [None, "none", "", "NONE"])
def test_no_damage_forms(damage):
    assert parse_damage(damage) == {}


def test_the_environment_raises_value_errors_the_task_names_the_field():
    with pytest.raises(ValueError, match=r"^got 'leg=9'; allowed: 'none', 'leg=K'") as info:
        parse_damage("leg=9")
    assert not isinstance(info.value, ConfigError)
    with pytest.raises(ConfigError, match=r"^env_kwargs\.damage: got 'leg=9'; allowed: 'none', 'leg=K'"):
        make(damage="leg=9")


@pytest.mark.parametrize("damage", ["leg=4", "leg", "leg=-1", "broken=1", "weak=1.5", "leg=1;weak=2",
                                    "locked=1,weak=1", 3, ["leg=1"]])
def test_bad_damage_raises_config_error(damage):
    with pytest.raises(ConfigError, match=r"^env_kwargs\.damage:") as info:
        make(damage=damage)
    if damage != "locked=1,weak=1":
        assert "'leg=K'" in str(info.value) and "'locked=K'" in str(info.value) and "'weak=K'" in str(info.value)


@pytest.mark.parametrize("duration", [0, 0.01, -1.0, "5", True, float("nan"), float("inf")])
def test_bad_duration_raises_config_error(duration):
    with pytest.raises(ConfigError, match=r"^env_kwargs\.duration:"):
        make(duration=duration)


def test_unknown_option_raises_config_error():
    with pytest.raises(ConfigError, match=r"^env_kwargs: \['legs'\].*allowed: duration, damage"):
        make(legs=6)
