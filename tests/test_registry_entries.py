"""Registry entries declared beside each algorithm, and the config machinery that reads them."""

import dataclasses
import importlib
import subprocess
import sys

import numpy as np
import pytest

from mpies import config as cfg
from mpies import registry
from mpies.config import ConfigError, StrategyConfig
from mpies.noise import CounterNoise
from mpies.poet.config import POETConfig
from mpies.strategies import CMAES, OpenAIESConfig
from mpies.strategies.cma_es import CMAESConfig


def test_every_module_declares_its_entries():
    names = []
    for module in registry.MODULES:
        entries = importlib.import_module(module).ALGORITHMS
        assert entries and all(isinstance(e, registry.Algorithm) for e in entries), module
        names += [e.name for e in entries]
    assert names == list(registry.algorithms()) == ["openai_es", "pgpe", "ars", "cem", "cma_es", "sep_cma_es",
                                                    "xnes", "snes", "ga", "lm_ma_es", "map_elites", "cma_me",
                                                    "cma_mae", "poet"]


@pytest.mark.parametrize("name", list(registry.algorithms()))
def test_entry_config_is_a_strategy_dataclass_and_the_config_uses_it(name):
    entry = registry.get(name)
    assert dataclasses.is_dataclass(entry.config) and issubclass(entry.config, StrategyConfig)
    assert entry.summary and "\n" not in entry.summary
    assert (entry.strategy is None) == (entry.program != registry.SEARCH_PROGRAM)
    data = {"algorithm": name, **({"env": "bipedal_terrain"} if name == "poet" else {})}
    config = cfg.from_dict(data)
    assert type(config.strategy) is entry.config and config.strategy == entry.config()
    assert cfg.from_toml(cfg.to_toml(config)) == config


def test_poet_runs_its_own_program_and_sep_cma_es_is_separable():
    assert registry.get("poet").program == "mpies.poet.program:POETProgram"
    assert registry.get("poet").config is POETConfig and issubclass(POETConfig, OpenAIESConfig)
    assert registry.get("cma_es").config is registry.get("sep_cma_es").config is CMAESConfig
    es = registry.get("sep_cma_es").strategy(CMAESConfig(), np.zeros(4), CounterNoise(0, 4))
    assert isinstance(es, CMAES) and es.separable and es.state.C.shape == (4,)
    assert not registry.get("cma_es").strategy(CMAESConfig(), np.zeros(4), CounterNoise(0, 4)).separable


def test_algorithm_choices_come_from_the_registry():
    choices = {f.name: f for f in dataclasses.fields(cfg.RunConfig)}["algorithm"].metadata["choices"]
    assert list(choices) == sorted(registry.algorithms()) and "poet" in choices
    with pytest.raises(ConfigError) as info:
        cfg.from_dict({"algorithm": "cmaes"})
    assert str(info.value) == ("algorithm: got 'cmaes'; allowed: 'ars', 'cem', 'cma_es', 'cma_mae', 'cma_me', 'ga', "
                               "'lm_ma_es', 'map_elites', 'openai_es', 'pgpe', 'poet', 'sep_cma_es', 'snes', 'xnes'")


def test_cross_field_checks_live_on_the_strategy_dataclasses():
    run = cfg.RunConfig()
    for config in (OpenAIESConfig(population=7), POETConfig(population=7)):
        with pytest.raises(ConfigError, match="must be even when strategy.mirrored = true"):
            config.validate(dataclasses.replace(run, env="bipedal_terrain", strategy=config))
    OpenAIESConfig(population=7, mirrored=False).validate(run)
    CMAESConfig().validate(run)  # the base class's no-op
    with pytest.raises(ConfigError, match="^env: .*bipedal_terrain"):
        POETConfig().validate(run)
    with pytest.raises(ConfigError, match=r"^strategy.truncation: got 9; must be <= strategy.population \(8\)$"):
        cfg.from_dict({"algorithm": "ga", "strategy": {"population": 8, "truncation": 9}})
    with pytest.raises(ConfigError, match="^strategy.upper: got"):
        cfg.from_dict({"algorithm": "map_elites", "strategy": {"lower": [0.0, 1.0], "upper": [1.0, 1.0]}})


def test_reading_configs_imports_neither_gymnasium_nor_box2d():
    code = ("import sys; from mpies import config, registry; registry.algorithms(); "
            "config.load('poet'); config.load('arm-map-elites'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('gymnasium', 'Box2D', 'mpi4py')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
