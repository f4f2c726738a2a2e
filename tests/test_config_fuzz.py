"""Many broken configs, generated: each must give one line naming the field (exit code 2 at the CLI)."""

import dataclasses
import typing

from hypothesis import given, settings
from hypothesis import strategies as st

from mpies import config as cfg
from mpies.config import ConfigError
from mpies.strategies import OpenAIESConfig

SECTIONS = {"": cfg.RunConfig, "policy": cfg.PolicyConfig, "noise": cfg.NoiseConfig,
            "rollout": cfg.RolloutConfig, "output": cfg.OutputConfig, "strategy": OpenAIESConfig}


def fields():
    """(section, name, annotation, metadata) of every scalar field."""
    out = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if not dataclasses.is_dataclass(hints[f.name]) and typing.get_origin(hints[f.name]) is not typing.Union:
                if f.name not in SECTIONS:
                    out.append((section, f.name, hints[f.name], f.metadata))
    return out


FIELDS = fields()


def wrong_values(annotation, meta):
    """Values that must be refused for a field of this type and rules."""
    wrong_type = {bool: st.sampled_from([1, "yes", 0.5, [True]]),
                  int: st.one_of(st.text(max_size=3), st.floats(allow_nan=False).filter(lambda x: x != int(x) if abs(x) < 1e15 else True), st.booleans()),
                  float: st.one_of(st.text(max_size=3), st.booleans(), st.lists(st.integers(), max_size=2)),
                  str: st.one_of(st.integers(), st.booleans(), st.floats(allow_nan=False)),
                  dict: st.one_of(st.integers(), st.text(max_size=3)),
                  list[int]: st.one_of(st.integers(), st.lists(st.text(max_size=2), min_size=1, max_size=2))}[annotation]
    options = [wrong_type]
    if "min" in meta:
        options.append(st.integers(max_value=-1).map(lambda v: meta["min"] + v) if annotation is int
                       else st.floats(max_value=-1e-9, allow_nan=False).map(lambda v: meta["min"] + v))
    if "gt" in meta:
        options.append(st.floats(max_value=0.0, allow_nan=False).map(lambda v: meta["gt"] + v))
    if "choices" in meta:
        options.append(st.text(min_size=1, max_size=8).filter(lambda v: v not in meta["choices"]))
    return st.one_of(options)


@st.composite
def broken_configs(draw):
    data = cfg.parse_toml(cfg.shipped_configs()["cartpole"])
    kind = draw(st.sampled_from(["value", "unknown key"]))
    section, name, annotation, meta = draw(st.sampled_from(FIELDS))
    table = data if not section else data.setdefault(section, {})
    path = f"{section}.{name}" if section else name
    if kind == "unknown key":
        name = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
            lambda k: k not in {f.name for f in dataclasses.fields(SECTIONS[section])}))
        path = f"{section}.{name}" if section else name
        table[name] = 1
    else:
        table[name] = draw(wrong_values(annotation, meta))
    return data, path


@settings(max_examples=400, deadline=None)
@given(broken_configs())
def test_every_broken_config_names_its_field_in_one_line(case):
    data, path = case
    try:
        cfg.from_dict(data)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.split(":")[0].split("[")[0] == path, (message, path)
    else:
        raise AssertionError(f"accepted a broken {path}: {data}")
