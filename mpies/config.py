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
import math
import os
import string
import tomllib
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A user error in a configuration: the message is one line, ready to print."""


ECHO_LIMIT = 60
"""Characters of a bad value that an error message shows (the rest is cut, its length given)."""
INT64_MAX = 2**63 - 1
"""The largest integer any field holds: every count and seed is an int64 in the run file."""


def echo(value) -> str:
    """``repr(value)`` for an error message, cut to about :data:`ECHO_LIMIT` characters: its start
    and its end (a file name ends a path), e.g. ``'/home/me/runs/aaaaa...aaaa/missing.toml' (302
    characters)``."""
    if isinstance(value, int) and value.bit_length() > 64 * 8:  # repr refuses huge ints
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    if len(text) <= ECHO_LIMIT:
        return text
    head = ECHO_LIMIT * 2 // 3
    return f"{text[:head]}...{text[head - ECHO_LIMIT:]} ({len(text)} characters)"


def option(default, help, **rules):
    """A dataclass field with help text and validation rules.

    Every config dataclass declares its fields with this, e.g.
    ``sigma: float = option(0.05, "std of parameter perturbations", gt=0.0)``; :func:`from_dict`
    enforces the rules and names the field in its errors. The rules:

    * ``min``, ``gt``, ``max``: bounds of a number (of each item of a list);
    * ``choices``: the allowed values;
    * ``finite=False``: a float field that accepts ``inf`` and ``-inf``. Without it every float
      (and every float of a list) must be finite; NaN is refused always.

    Every integer must fit in an int64 (``|value| <= 2**63 - 1``, :data:`INT64_MAX`); no string
    may hold a NUL character.
    """
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **rules})
    return field(default=default, metadata={"help": help, **rules})


@dataclass
class StrategyConfig:
    """Base of every ``[strategy]`` dataclass (each declared beside its algorithm, see
    :mod:`mpies.registry`)."""

    population_field = "strategy.population"
    """The field an error about the population size names (a class attribute, not a field)."""

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
    squash: str = option("tanh", "how continuous actions are bounded: tanh, scaled to the action box, or "
                                 "clip to the box (ARS's raw linear policy)", choices=("tanh", "clip"))
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
    reward_shift: float = option(
        0.0, "subtracted from every reward of member episodes (training only; evaluations are "
        "unshifted), e.g. ARS's survival-bonus shift: 1 for Hopper, Walker2d, Ant; 5 for Humanoid")
    schedule: str = option(
        "static", "how episodes are dealt to ranks: static (round-robin, fixed in advance) or dynamic "
        "(ranks claim the next ones from a shared counter as they finish; the result is the same)",
        choices=("static", "dynamic"))
    chunk: int = option(1, "episodes claimed at a time with schedule = dynamic", min=1)


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
        """``output.path`` with {name} and {seed} filled in.

        Raises:
            ConfigError: it fills in anything else (``{name.x}``, ``{0}``) or is malformed.
        """
        return Path(_fill_output_path(self.output.path, self.name, self.seed))


# --------------------------------------------------------------------------- validation

_SECTION_TYPES = {"policy": PolicyConfig, "noise": NoiseConfig, "rollout": RolloutConfig,
                  "output": OutputConfig}


def _type_name(value) -> str:
    return type(value).__name__


def _integer_hint(value) -> str:
    """For a float that holds an integer (``1e6``): how to write it as one."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= INT64_MAX:
        return f"; write {int(value)} (TOML reads a number with an exponent or a point as a float)"
    return ""


def _check_number(path: str, value, annotation, meta: dict):
    """An int or float field's value, converted; ConfigError for the wrong type, NaN, inf (unless
    ``finite=False``) or an integer beyond int64."""
    wrong_type = isinstance(value, bool) or not isinstance(value, (int, float))
    if wrong_type or (annotation is int and isinstance(value, float)):
        expected = "an integer" + _integer_hint(value) if annotation is int else "a number"
        raise ConfigError(f"{path}: got {echo(value)} ({_type_name(value)}); expected {expected}")
    if annotation is int:
        if abs(value) > INT64_MAX:
            raise ConfigError(f"{path}: got {echo(value)}; integers must lie within +-{INT64_MAX} (2**63 - 1: "
                              f"counts and seeds are stored as int64)")
        return value
    try:
        value = float(value)
    except OverflowError:  # an integer beyond the largest float
        raise ConfigError(f"{path}: got {echo(value)}; must be a finite number (at most about 1.8e308)") from None
    if math.isnan(value) or (math.isinf(value) and meta.get("finite", True)):
        allowed = "a finite number" if meta.get("finite", True) else "a number or +-inf (not NaN)"
        note = " (numbers beyond about 1.8e308, such as 1e400, read as inf)" if math.isinf(value) else ""
        raise ConfigError(f"{path}: got {value}{note}; must be {allowed}")
    return value


def _check_no_nul(path: str, value) -> None:
    """ConfigError if a string in ``value`` (a string, or a table or list of them) holds a NUL."""
    problem = "holds a NUL character (\\x00), which no file name or HDF5 attribute can store; remove it"
    if isinstance(value, str) and "\x00" in value:
        raise ConfigError(f"{path}: got {echo(value)}; {problem}")
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise ConfigError(f"{path}: key {echo(key)} {problem}")
            _check_no_nul(f"{path}.{key}", item)
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_no_nul(f"{path}[{i}]", item)


def _check_value(path: str, value, annotation, meta: dict):
    """Return ``value`` converted to ``annotation``; raise ConfigError naming ``path``."""
    origin = typing.get_origin(annotation)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: got {echo(value)} ({_type_name(value)}); expected true or false")
    elif annotation in (int, float):
        value = _check_number(path, value, annotation, meta)
    elif annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: got {echo(value)} ({_type_name(value)}); expected a string")
        _check_no_nul(path, value)
    elif annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: got {echo(value)}; expected a table")
        _check_no_nul(path, value)
    elif origin is list:
        (item_type,) = typing.get_args(annotation)
        if not isinstance(value, list):
            raise ConfigError(f"{path}: got {echo(value)} ({_type_name(value)}); expected a list")
        return [_check_value(f"{path}[{i}]", v, item_type, meta) for i, v in enumerate(value)]
    else:  # pragma: no cover - a programming error, not a user error
        raise TypeError(f"unsupported annotation {annotation} for {path}")

    if "choices" in meta and value not in meta["choices"]:
        allowed = ", ".join(repr(c) for c in meta["choices"])
        raise ConfigError(f"{path}: got {echo(value)}; allowed: {allowed}")
    if "min" in meta and value < meta["min"]:
        raise ConfigError(f"{path}: got {echo(value)}; must be >= {meta['min']}")
    if "gt" in meta and value <= meta["gt"]:
        raise ConfigError(f"{path}: got {echo(value)}; must be > {meta['gt']}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(f"{path}: got {echo(value)}; must be <= {meta['max']}")
    return value


def _unknown_key_error(path: str, key: str, allowed: list[str]) -> ConfigError:
    shown = key if key.isprintable() and len(key) <= ECHO_LIMIT else echo(key)
    where = f"{path}.{shown}" if path else shown
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{where}: unknown key{hint}; allowed: {', '.join(allowed)}")


def _build(cls, data: dict, path: str):
    """Instantiate dataclass ``cls`` from ``data``, validating every field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table, got {echo(data)}")
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
    _check_name(config.name)
    _check_output_path(config)


def _check_name(name: str) -> None:
    """A run name is one file-name component: it fills ``{name}`` of ``output.path`` and must not
    lead the file out of its folder (``../x``) or into another one."""
    if not name.strip() or name in (".", "..") or "/" in name or "\\" in name:
        raise ConfigError(f"name: got {echo(name)}; a run name is a plain file name (no '/', not '.' or "
                          f"'..'); to write elsewhere, pass -o PATH or set output.path")


PATH_FIELDS = ("name", "seed")
"""What ``output.path`` may fill in."""
SIDECAR_ROOM = 20
"""Bytes a run file's name leaves free for the files beside it (``NAME.lock.stale-PID``,
``.NAME.tmp-PID``, ``.NAME.repair-PID``)."""


def nearest_folder(path: Path) -> Path:
    """``path`` (absolute) if it is a folder, else its nearest ancestor that is one."""
    probe = Path(path).absolute()
    while not os.path.isdir(probe) and probe != probe.parent:  # isdir: False for a too-long name too
        probe = probe.parent
    return probe


def _limit(directory: Path, name: str, default: int) -> int:
    """``os.pathconf`` of the nearest existing folder of ``directory`` (``PC_NAME_MAX``, ...)."""
    try:
        return os.pathconf(nearest_folder(directory), name)
    except (OSError, ValueError):
        return default


def _fill_output_path(template: str, name: str, seed: int) -> str:
    """``template`` with {name} and {seed} (and short format specs such as ``{seed:03d}``) filled
    in; ConfigError naming ``output.path`` for any other field or a malformed template."""
    def refused(why: str) -> ConfigError:
        return ConfigError(f"output.path: got {echo(template)}{why}; only {{name}} and {{seed}} are filled "
                           f"in (e.g. {{seed:03d}}); write a literal brace as {{{{ or }}}}")
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise refused(f": {exc}") from None
    for field_name, spec, conversion in fields:
        if field_name not in PATH_FIELDS or conversion or len(spec) > 4:
            raise refused(f"; {{{field_name}}} cannot be filled in")
    try:
        return template.format(name=name, seed=seed)
    except (ValueError, TypeError) as exc:  # a format spec that does not suit the value
        raise refused(f": {exc}") from None


def _check_output_path(config: RunConfig) -> None:
    """ConfigError unless ``output.path`` is a template :meth:`RunConfig.output_path` fills in and
    gives a path the file system can hold, with room for the files beside the run file."""
    template = config.output.path
    path = config.output_path()
    if "{name" in template:
        field_name, value, shorter = "name", config.name, "choose a shorter name, or an output.path without {name}"
    else:
        field_name, value, shorter = "output.path", template, "choose a shorter path"
    name_max = _limit(path.parent, "PC_NAME_MAX", 255)
    for part, room in [(folder, 0) for folder in path.parts[:-1]] + [(path.name, SIDECAR_ROOM)]:
        size = len(os.fsencode(part))
        if size > name_max - room:
            what = "the run file's name" if room else f"the folder name {echo(part)}"
            spare = f" ({name_max} less room for the .lock and temporary files beside it)" if room else ""
            raise ConfigError(f"{field_name}: got {echo(value)}; {what} would be {size} bytes, more than the "
                              f"{name_max - room} this file system allows{spare}; {shorter}")
    size, path_max = len(os.fsencode(path.absolute())), _limit(path.parent, "PC_PATH_MAX", 4096)
    if size > path_max - SIDECAR_ROOM:
        raise ConfigError(f"{field_name}: got {echo(value)}; the run file's path would be {size} bytes, more "
                          f"than the {path_max - SIDECAR_ROOM} this file system allows; {shorter}")


# --------------------------------------------------------------------------- loading

def shipped_configs() -> dict[str, str]:
    """Name -> TOML text of the configs shipped inside the package (``mpies/configs``)."""
    root = importlib.resources.files("mpies") / "configs"
    return {p.name[:-5]: p.read_text() for p in root.iterdir() if p.name.endswith(".toml")}


def parse_override(item: str) -> tuple[list[str], object]:
    """``"strategy.sigma=0.05"`` -> (["strategy", "sigma"], 0.05). Bare words become strings."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {echo(item)}: expected KEY=VALUE, e.g. --set strategy.sigma=0.05")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except ValueError:  # TOMLDecodeError, or an integer of more than 4300 digits
        value = raw  # an unquoted string such as an env id
    return key.strip().split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for item in overrides:
        keys, value = parse_override(item)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {echo(item)}: {k} is not a table")
        node[keys[-1]] = value
    return data


def load_text(source: str) -> tuple[str, str]:
    """Resolve a path or a shipped config name to (TOML text, default run name)."""
    path = Path(source)
    if path.suffix == ".toml" or path.exists():
        if path.is_dir():
            raise ConfigError(f"config: {echo(source)} is a folder; pass a TOML file in it or a shipped "
                              f"name (`mpies config` lists them)")
        if not path.is_file():
            raise ConfigError(f"config: file {echo(source)} not found; pass a TOML file or a shipped name "
                              f"(`mpies config` lists them)")
        try:
            return path.read_text(), path.stem
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config: cannot read {echo(source)}: "
                              f"{exc.strerror if isinstance(exc, OSError) else 'not UTF-8 text'}") from None
    shipped = shipped_configs()
    if source in shipped:
        return shipped[source], source
    close = difflib.get_close_matches(source, list(shipped), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(
        f"config: {echo(source)} is neither a file nor a shipped config{hint}; shipped: {', '.join(sorted(shipped))}"
    )


def parse_toml(text: str, origin: str = "config") -> dict:
    try:
        return tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4300 digits
        raise ConfigError(f"{origin}: invalid TOML: {exc}") from None


def load(source: str, overrides: list[str] = ()) -> RunConfig:
    """Load a config file or shipped name, apply ``--set`` overrides, validate."""
    text, default_name = load_text(source)
    data = parse_toml(text, source)
    data.setdefault("name", default_name)
    return from_dict(apply_overrides(data, list(overrides)))


# --------------------------------------------------------------------------- TOML output

_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    return '"' + "".join(_TOML_ESCAPES.get(c, f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7f else c)
                         for c in text) + '"'


def _toml_key(key: str) -> str:
    return key if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key) else _toml_string(key)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
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
