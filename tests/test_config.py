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
