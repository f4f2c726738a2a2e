"""Many broken configs, generated: each must give one line naming the field (exit code 2 at the CLI);
NaN, inf, huge and negative numbers in every numeric field of every algorithm either build a
valid config (whose memory estimate works) or do the same."""

import dataclasses
import math
import typing
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from mpies import config as cfg
from mpies import memory, registry
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


# --------------------------------------------------------------------------- wild numbers

COMMON = {"": cfg.RunConfig, "policy": cfg.PolicyConfig, "noise": cfg.NoiseConfig,
          "rollout": cfg.RolloutConfig, "output": cfg.OutputConfig}
NUMERIC = (int, float, list[int], list[float])
BASES = {name: {"algorithm": name, **({"env": "bipedal_terrain"} if name == "poet" else {})}
         for name in registry.algorithms()}
"""The smallest valid config of each registered algorithm."""


def numeric_fields() -> list[tuple[str, str, str, object, dict]]:
    """(algorithm, section, name, annotation, metadata) of every numeric field of every algorithm's
    ``[strategy]`` table and of the common sections (those once, with the default algorithm)."""
    out = []
    tables = [(cfg.DEFAULT_ALGORITHM, section, cls) for section, cls in COMMON.items()]
    tables += [(name, "strategy", entry.config) for name, entry in registry.algorithms().items()]
    for algorithm, section, cls in tables:
        hints = typing.get_type_hints(cls)
        out += [(algorithm, section, f.name, hints[f.name], f.metadata)
                for f in dataclasses.fields(cls) if hints[f.name] in NUMERIC]
    return out


NUMERIC_FIELDS = numeric_fields()
WILD = st.one_of(
    st.floats(),  # NaN, +-inf, subnormals, +-1.8e308
    st.integers(min_value=-2**80, max_value=2**80),
    st.sampled_from([2**63 - 1, 2**63, -2**63 - 1, 4611686018427387904, 10**400, 0, -1, 1, 1e6, 1e12, -0.0]),
)
FIELD_PATHS = {f"{s}.{n}" if s else n for _, s, n, _, _ in NUMERIC_FIELDS} | {
    f"{s}.{f.name}" if s else f.name for s, cls in COMMON.items() for f in dataclasses.fields(cls)} | {
    f"strategy.{f.name}" for e in registry.algorithms().values() for f in dataclasses.fields(e.config)}


def accepted(value, annotation, meta) -> bool:
    """Whether a number that was accepted is one the rules allow: finite floats (unless the field
    says ``finite=False``), int64 integers."""
    items = value if isinstance(value, list) else [value]
    if typing.get_origin(annotation) is list:
        annotation = typing.get_args(annotation)[0]
    if annotation is int:
        return all(isinstance(v, int) and abs(v) <= cfg.INT64_MAX for v in items)
    return all(not math.isnan(v) and (math.isfinite(v) or meta.get("finite") is False) for v in items)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(NUMERIC_FIELDS), st.data())
def test_nan_inf_huge_and_negative_numbers_build_a_valid_config_or_name_their_field(field, data):
    algorithm, section, name, annotation, meta = field
    value = data.draw(st.lists(WILD, max_size=4) if typing.get_origin(annotation) is list else WILD)
    config_data = dict(BASES[algorithm])
    (config_data.setdefault(section, {}) if section else config_data)[name] = value
    path = f"{section}.{name}" if section else name
    try:
        config = cfg.from_dict(config_data)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 600, message
        assert message.split(":")[0].split("[")[0] in FIELD_PATHS, (message, path)
        return
    stored = getattr(getattr(config, section) if section else config, name)
    assert accepted(stored, annotation, meta), (path, value, stored)
    # a valid config always has an estimate (however absurd), never an exception
    task = SimpleNamespace(num_params=100, params_field="policy.hidden", descriptor_dim=2, buffer_bytes=0,
                           buffer_field="rollout.max_steps")
    parts = memory.estimate(config, task, row_width=10)
    assert all(p.nbytes >= 0 for p in parts)
    memory.refusal(parts, 4, 2.0**30)
