"""Typed, validated run configuration: a TOML file plus ``--set key=value`` overrides.

A run is described by :class:`RunConfig`, a tree of dataclasses. Every field carries its help
text and its constraints in ``metadata``; :func:`from_dict` checks types, ranges, choices and
unknown keys and raises :class:`ConfigError` whose message names the field, the bad value and
what is allowed. The resolved configuration is stored as TOML text in every output file
(:func:`to_toml`), so a run can be resumed or audited from its file alone.

This module holds the machinery and the sections every run has. The ``[strategy]`` dataclass of
each algorithm lives beside the algorithm (declared with :func:`option`, derived from
:class:`StrategyConfig`, with its cross-field checks in ``validate``) and is found through
:mod:`mpies.registry` by the run's ``algorithm``.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import tomllib
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A user error in a configuration: the message is one line, ready to print."""


def option(default, help, **rules):
    """A dataclass field with help text and validation rules (``min``, ``gt``, ``max``, ``choices``).

    Every config dataclass declares its fields with this, e.g.
    ``sigma: float = option(0.05, "std of parameter perturbations", gt=0.0)``; :func:`from_dict`
    enforces the rules and names the field in its errors.
    """
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **rules})
    return field(default=default, metadata={"help": help, **rules})


@dataclass
class StrategyConfig:
    """Base of every ``[strategy]`` dataclass (each declared beside its algorithm, see
    :mod:`mpies.registry`)."""

    def validate(self, run: RunConfig) -> None:
        """Checks across fields (and against the rest of ``run``); raise :class:`ConfigError`
        naming the field. Field types and ranges are checked before this is called."""


class _AlgorithmNames(Sequence):
    """The sorted names of :func:`mpies.registry.algorithms`, looked up when read: the algorithm
    modules import this one (for :func:`option`), so the registry is not read at import time."""

    def _names(self) -> tuple[str, ...]:
        from . import registry
        return tuple(sorted(registry.algorithms()))

    def __getitem__(self, index):
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return repr(self._names())


DEFAULT_ALGORITHM = "openai_es"


def _default_strategy() -> StrategyConfig:
    from . import registry
    return registry.get(DEFAULT_ALGORITHM).config()


@dataclass
class PolicyConfig:
    """The policy network: a numpy function of the observation on a flat parameter vector."""

    kind: str = option("mlp", "network type", choices=("linear", "mlp"))
    hidden: list[int] = option([32, 32], "hidden layer sizes of the mlp (tanh units)", min=1)
    obs_norm: bool = option(True, "normalise observations by running mean/std gathered from rollouts")
    obs_stat_fraction: float = option(
        1.0, "fraction of members whose observations update the normaliser", gt=0.0, max=1.0
    )
    action_noise: float = option(0.0, "std of Gaussian noise added to continuous actions", min=0.0)
    init_scale: float = option(1.0, "scale of the initial weights (1 = variance-preserving)", min=0.0)


@dataclass
class NoiseConfig:
    """Where perturbations come from: both modes are deterministic from the run seed."""

    mode: str = option(
        "table",
        "table: one Gaussian table per node in MPI shared memory; generator: counter-based RNG",
        choices=("table", "generator"),
    )
    table_size: int = option(2**25, "float32 entries in the noise table (4 bytes each)", min=1024)


@dataclass
class RolloutConfig:
    """How members and the mean are evaluated."""

    max_steps: int = option(0, "episode step cap (0 = the environment's own limit)", min=0)
    episodes: int = option(1, "episodes averaged per member", min=1)
    eval_every: int = option(5, "noiseless evaluation of the mean every K generations (0 = never)", min=0)
    eval_episodes: int = option(5, "episodes in each noiseless evaluation", min=1)
    max_failed_fraction: float = option(
        0.5, "abort the run when more than this fraction of members fail (raise or return NaN/inf)",
        min=0.0, max=1.0)


@dataclass
class OutputConfig:
    """Where results and checkpoints go."""

    path: str = option("runs/{name}-seed{seed}.h5", "HDF5 output; {name} and {seed} are filled in")
    checkpoint_every: int = option(10, "write resumable state every N generations (0 = only at the end)", min=0)


@dataclass
class RunConfig:
    """One run: environment, policy, search strategy, budget and output.

    ``strategy`` is the dataclass that :mod:`mpies.registry` names for ``algorithm``.
    """

    name: str = option("run", "run name, used in the default output path")
    algorithm: str = option(DEFAULT_ALGORITHM, "search strategy", choices=_AlgorithmNames())
    env: str = option("CartPole-v1", "gymnasium id (see `mpies envs`) or module:Env-v0")
    env_kwargs: dict = option({}, "keyword arguments passed to gymnasium.make")
    seed: int = option(0, "run seed: perturbations, episode seeds and initial weights derive from it", min=0)
    generations: int = option(100, "number of generations to run", min=1)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    strategy: StrategyConfig = field(default_factory=_default_strategy)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def output_path(self) -> Path:
        return Path(self.output.path.format(name=self.name, seed=self.seed))


# --------------------------------------------------------------------------- validation

_SECTION_TYPES = {"policy": PolicyConfig, "noise": NoiseConfig, "rollout": RolloutConfig,
                  "output": OutputConfig}


def _type_name(value) -> str:
    return type(value).__name__


def _check_value(path: str, value, annotation, meta: dict):
    """Return ``value`` converted to ``annotation``; raise ConfigError naming ``path``."""
    origin = typing.get_origin(annotation)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: got {value!r} ({_type_name(value)}); expected true or false")
    elif annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: got {value!r} ({_type_name(value)}); expected an integer")
    elif annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: got {value!r} ({_type_name(value)}); expected a number")
        value = float(value)
    elif annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: got {value!r} ({_type_name(value)}); expected a string")
    elif annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: got {value!r}; expected a table")
    elif origin is list:
        (item_type,) = typing.get_args(annotation)
        if not isinstance(value, list):
            raise ConfigError(f"{path}: got {value!r} ({_type_name(value)}); expected a list")
        return [_check_value(f"{path}[{i}]", v, item_type, meta) for i, v in enumerate(value)]
    else:  # pragma: no cover - a programming error, not a user error
        raise TypeError(f"unsupported annotation {annotation} for {path}")

    if "choices" in meta and value not in meta["choices"]:
        allowed = ", ".join(repr(c) for c in meta["choices"])
        raise ConfigError(f"{path}: got {value!r}; allowed: {allowed}")
    if "min" in meta and value < meta["min"]:
        raise ConfigError(f"{path}: got {value!r}; must be >= {meta['min']}")
    if "gt" in meta and value <= meta["gt"]:
        raise ConfigError(f"{path}: got {value!r}; must be > {meta['gt']}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(f"{path}: got {value!r}; must be <= {meta['max']}")
    return value


def _unknown_key_error(path: str, key: str, allowed: list[str]) -> ConfigError:
    where = f"{path}.{key}" if path else key
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{where}: unknown key{hint}; allowed: {', '.join(allowed)}")


def _build(cls, data: dict, path: str):
    """Instantiate dataclass ``cls`` from ``data``, validating every field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise _unknown_key_error(path, key, sorted(fields))
    kwargs = {}
    for name, value in data.items():
        sub = f"{path}.{name}" if path else name
        annotation = hints[name]
        if dataclasses.is_dataclass(annotation):
            continue  # sections are built by the caller
        kwargs[name] = _check_value(sub, value, annotation, fields[name].metadata)
    return cls(**kwargs)


def from_dict(data: dict) -> RunConfig:
    """Build and validate a RunConfig from a parsed TOML document."""
    from . import registry  # not at import time: the algorithm modules import this one

    data = dict(data)
    sections = {k: data.pop(k) for k in ("policy", "strategy", "noise", "rollout", "output") if k in data}
    config = _build(RunConfig, data, "")
    for key, section_cls in _SECTION_TYPES.items():
        setattr(config, key, _build(section_cls, sections.get(key, {}), key))
    config.strategy = _build(registry.get(config.algorithm).config, sections.get("strategy", {}), "strategy")
    _check_cross_fields(config)
    return config


def _check_cross_fields(config: RunConfig) -> None:
    config.strategy.validate(config)
    if config.policy.kind == "linear" and config.policy.hidden != PolicyConfig().hidden:
        raise ConfigError("policy.hidden: a linear policy has no hidden layers; remove the key or set policy.kind = \"mlp\"")
    try:
        config.output_path()
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"output.path: got {config.output.path!r}; only {{name}} and {{seed}} may be filled in ({exc})"
        ) from None


# --------------------------------------------------------------------------- loading

def shipped_configs() -> dict[str, str]:
    """Name -> TOML text of the configs shipped inside the package (``mpies/configs``)."""
    root = importlib.resources.files("mpies") / "configs"
    return {p.name[:-5]: p.read_text() for p in root.iterdir() if p.name.endswith(".toml")}


def parse_override(item: str) -> tuple[list[str], object]:
    """``"strategy.sigma=0.05"`` -> (["strategy", "sigma"], 0.05). Bare words become strings."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set strategy.sigma=0.05")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # an unquoted string such as an env id
    return key.strip().split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for item in overrides:
        keys, value = parse_override(item)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {k} is not a table")
        node[keys[-1]] = value
    return data


def load_text(source: str) -> tuple[str, str]:
    """Resolve a path or a shipped config name to (TOML text, default run name)."""
    path = Path(source)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"config: file {source!r} not found; pass a TOML file or a shipped name (see `mpies envs`)")
        return path.read_text(), path.stem
    shipped = shipped_configs()
    if source in shipped:
        return shipped[source], source
    close = difflib.get_close_matches(source, list(shipped), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(
        f"config: {source!r} is neither a file nor a shipped config{hint}; shipped: {', '.join(sorted(shipped))}"
    )


def parse_toml(text: str, origin: str = "config") -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: invalid TOML: {exc}") from None


def load(source: str, overrides: list[str] = ()) -> RunConfig:
    """Load a config file or shipped name, apply ``--set`` overrides, validate."""
    text, default_name = load_text(source)
    data = parse_toml(text, source)
    data.setdefault("name", default_name)
    return from_dict(apply_overrides(data, list(overrides)))


# --------------------------------------------------------------------------- TOML output

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(config: RunConfig) -> str:
    """The fully resolved configuration as TOML text; ``load``-ing it gives an equal config."""
    scalars, tables = [], []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            body = "\n".join(f"{k} = {_toml_value(v)}" for k, v in dataclasses.asdict(value).items())
            tables.append(f"[{f.name}]\n{body}\n")
        else:
            scalars.append(f"{f.name} = {_toml_value(value)}")
    return "\n".join(scalars) + "\n\n" + "\n".join(tables)


def from_toml(text: str) -> RunConfig:
    return from_dict(parse_toml(text))
