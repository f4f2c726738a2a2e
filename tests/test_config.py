"""Config validation: every error names the field, the bad value and what is allowed."""

import pytest

from mpies import config as cfg
from mpies.config import ConfigError


def build(text: str):
    return cfg.from_dict(cfg.parse_toml(text))


def test_defaults_and_every_shipped_config_are_valid():
    assert isinstance(build(""), cfg.RunConfig)
    shipped = cfg.shipped_configs()
    assert "cartpole" in shipped
    for name in shipped:
        config = cfg.load(name)
        assert config.name == name and config.generations > 0


@pytest.mark.parametrize("text, field, words", [
    ("generations = -3", "generations", [">= 1", "-3"]),
    ("generations = 2.5", "generations", ["integer", "2.5"]),
    ('seed = "zero"', "seed", ["integer"]),
    ("[strategy]\nsigma = 0", "strategy.sigma", ["> 0.0"]),
    ('[strategy]\noptimizer = "rmsprop"', "strategy.optimizer", ["'adam'", "'sgd'", "rmsprop"]),
    ("[strategy]\npopulation = 7", "strategy.population", ["even"]),
    ("[strategy]\nsigmaa = 0.1", "strategy.sigmaa", ["unknown key", "did you mean 'sigma'"]),
    ("[policy]\nhidden = [32, -1]", "policy.hidden[1]", [">= 1"]),
    ("[policy]\nobs_norm = 1", "policy.obs_norm", ["true or false"]),
    ('[noise]\nmode = "disk"', "noise.mode", ["'table'", "'generator'"]),
    ("populaton = 3", "populaton", ["unknown key"]),
    ('policy = 3', "policy", ["table"]),
    ('[output]\npath = "runs/{nmae}.h5"', "output.path", ["{name}"]),
])
def test_errors_name_the_field_and_the_fix(text, field, words):
    with pytest.raises(ConfigError) as info:
        build(text)
    message = str(info.value)
    assert message.startswith(field + ":"), message
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_overrides_parse_toml_values_and_bare_strings():
    data = cfg.apply_overrides({}, ["strategy.sigma=0.05", "generations=300", "env=Hopper-v5",
                                    "policy.hidden=[16, 16]", "policy.obs_norm=false"])
    config = cfg.from_dict(data)
    assert config.strategy.sigma == 0.05 and config.generations == 300
    assert config.env == "Hopper-v5" and config.policy.hidden == [16, 16] and not config.policy.obs_norm
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        cfg.parse_override("sigma")


def test_toml_roundtrip_is_exact():
    config = cfg.load("cartpole", ["strategy.sigma=0.123", "env_kwargs={sutton_barto_reward = true}"])
    again = cfg.from_toml(cfg.to_toml(config))
    assert again == config


def test_missing_file_and_unknown_name():
    with pytest.raises(ConfigError, match="not found"):
        cfg.load("no/such/file.toml")
    with pytest.raises(ConfigError, match="did you mean 'cartpole'"):
        cfg.load("cartpol")


# written by mpies before the [strategy] dataclasses moved beside their algorithms
OLD_POET_TOML = """\
name = "poet-small"
algorithm = "poet"
env = "bipedal_terrain"
env_kwargs = {}
seed = 0
generations = 120

[policy]
kind = "mlp"
hidden = [40, 40]
obs_norm = false
obs_stat_fraction = 1.0
action_noise = 0.0
init_scale = 1.0

[strategy]
population = 48
sigma = 0.1
sigma_decay = 0.999
sigma_min = 0.01
mirrored = true
shaping = "centered_rank"
optimizer = "adam"
learning_rate = 0.01
momentum = 0.9
beta1 = 0.9
beta2 = 0.999
weight_decay = 0.01
learning_rate_decay = 0.9999
learning_rate_min = 0.001
transfer_every = 10
mutate_every = 25
max_pairs = 4
repro_threshold = -20.0
mc_lower = -60.0
mc_upper = 340.0
max_children = 8
max_admitted = 1
novelty_k = 5
mutate = ["roughness", "pit_gap", "stump_height"]
roughness_step = 0.6
roughness_max = 10.0
pit_gap_init = [0.0, 0.8]
pit_gap_step = 0.4
pit_gap_max = 8.0
stump_height_init = [0.0, 0.4]
stump_height_step = 0.2
stump_height_max = 5.0
solved_score = 230.0
initial_terrain = [0.0, 0.0, 0.0, 0.0, 0.0]
initial_terrain_seed = -1

[noise]
mode = "table"
table_size = 16777216

[rollout]
max_steps = 2000
episodes = 1
eval_every = 5
eval_episodes = 5
max_failed_fraction = 0.5
reward_shift = 0.0

[output]
path = "runs/{name}-seed{seed}.h5"
checkpoint_every = 5
"""


ADDED_SINCE = ('squash = "tanh"', 'schedule = "static"', "chunk = 1")
"""Fields added after OLD_POET_TOML was written: written again, a stored config gains their defaults."""


def test_toml_written_before_the_move_loads_and_is_written_again_unchanged():
    config = cfg.from_toml(OLD_POET_TOML)
    assert type(config.strategy).__module__ == "mpies.poet.config"
    again = cfg.to_toml(config).splitlines()
    assert [line for line in again if line not in ADDED_SINCE] == OLD_POET_TOML.splitlines()
    assert all(line in again for line in ADDED_SINCE)


@pytest.mark.parametrize("name", sorted(cfg.shipped_configs()))
def test_every_shipped_config_round_trips_through_toml(name):
    config = cfg.load(name)
    text = cfg.to_toml(config)
    assert cfg.from_toml(text) == config and cfg.to_toml(cfg.from_toml(text)) == text
