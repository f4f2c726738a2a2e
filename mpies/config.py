"""Typed, validated run configuration: a TOML file plus ``--set key=value`` overrides.

A run is described by :class:`RunConfig`, a tree of dataclasses. Every field carries its help
text and its constraints in ``metadata``; :func:`from_dict` checks types, ranges, choices and
unknown keys and raises :class:`ConfigError` whose message names the field, the bad value and
what is allowed. The resolved configuration is stored as TOML text in every output file
(:func:`to_toml`), so a run can be resumed or audited from its file alone.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A user error in a configuration: the message is one line, ready to print."""


def _f(default, help, **rules):
    """A dataclass field with help text and validation rules (min, gt, max, choices)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **rules})
    return field(default=default, metadata={"help": help, **rules})


@dataclass
class PolicyConfig:
    """The policy network: a numpy function of the observation on a flat parameter vector."""

    kind: str = _f("mlp", "network type", choices=("linear", "mlp"))
    hidden: list[int] = _f([32, 32], "hidden layer sizes of the mlp (tanh units)", min=1)
    obs_norm: bool = _f(True, "normalise observations by running mean/std gathered from rollouts")
    obs_stat_fraction: float = _f(
        1.0, "fraction of members whose observations update the normaliser", gt=0.0, max=1.0
    )
    action_noise: float = _f(0.0, "std of Gaussian noise added to continuous actions", min=0.0)
    init_scale: float = _f(1.0, "scale of the initial weights (1 = variance-preserving)", min=0.0)


@dataclass
class OpenAIESConfig:
    """OpenAI-ES (Salimans et al. 2017): gradient estimate from mirrored Gaussian perturbations."""

    population: int = _f(64, "members per generation (even when mirrored)", min=2)
    sigma: float = _f(0.05, "std of parameter perturbations", gt=0.0)
    sigma_decay: float = _f(1.0, "sigma multiplied by this after every generation", gt=0.0, max=1.0)
    sigma_min: float = _f(0.0, "lower bound of sigma under decay", min=0.0)
    mirrored: bool = _f(True, "antithetic pairs +eps / -eps")
    shaping: str = _f(
        "centered_rank", "fitness shaping", choices=("centered_rank", "normalized", "none")
    )
    optimizer: str = _f("adam", "step rule applied to the gradient estimate", choices=("adam", "sgd"))
    learning_rate: float = _f(0.01, "optimizer step size", gt=0.0)
    momentum: float = _f(0.9, "sgd momentum", min=0.0, max=1.0)
    beta1: float = _f(0.9, "adam beta1", min=0.0, max=1.0)
    beta2: float = _f(0.999, "adam beta2", min=0.0, max=1.0)
    weight_decay: float = _f(0.005, "L2 coefficient subtracted from the gradient", min=0.0)


@dataclass
class NoiseConfig:
    """Where perturbations come from: both modes are deterministic from the run seed."""

    mode: str = _f(
        "table",
        "table: one Gaussian table per node in MPI shared memory; generator: counter-based RNG",
        choices=("table", "generator"),
    )
    table_size: int = _f(2**25, "float32 entries in the noise table (4 bytes each)", min=1024)


@dataclass
class RolloutConfig:
    """How members and the mean are evaluated."""

    max_steps: int = _f(0, "episode step cap (0 = the environment's own limit)", min=0)
    episodes: int = _f(1, "episodes averaged per member", min=1)
    eval_every: int = _f(5, "noiseless evaluation of the mean every K generations (0 = never)", min=0)
    eval_episodes: int = _f(5, "episodes in each noiseless evaluation", min=1)
    max_failed_fraction: float = _f(
        0.5, "abort the run when more than this fraction of members fail (raise or return NaN/inf)",
        min=0.0, max=1.0)


@dataclass
class OutputConfig:
    """Where results and checkpoints go."""

    path: str = _f("runs/{name}-seed{seed}.h5", "HDF5 output; {name} and {seed} are filled in")
    checkpoint_every: int = _f(10, "write resumable state every N generations (0 = only at the end)", min=0)


@dataclass
class CEMConfig:
    """Cross-entropy method, diagonal Gaussian, with Szita & Lőrincz (2006) extra noise."""

    population: int = _f(100, "members per generation", min=1)
    elite_fraction: float = _f(0.1, "fraction rho of members kept as elites", gt=0.0, max=1.0)
    init_std: float = _f(10.0, "initial std of every parameter (variance 100 as in the lecture)", gt=0.0)
    init_mean: str = _f("zero", "initial mean: zero, or the policy's initial weights",
                        choices=("zero", "policy"))
    extra_noise: str = _f("constant", "noise added to the variance each generation",
                          choices=("none", "constant", "decreasing"))
    noise_constant: float = _f(4.0, "eta of constant extra noise", min=0.0)
    noise_a: float = _f(5.0, "a of decreasing extra noise max(a - t/b, 0)", min=0.0)
    noise_b: float = _f(10.0, "b of decreasing extra noise max(a - t/b, 0)", gt=0.0)


@dataclass
class CMAESConfig:
    """CMA-ES (Hansen's tutorial defaults, as pycma), full or separable covariance."""

    population: int = _f(0, "members per generation (0 = 4 + floor(3 ln n))", min=0)
    sigma: float = _f(0.5, "initial step size", gt=0.0)
    active: bool = _f(True, "negative weights for the worst members (active CMA)")
    restarts: int = _f(0, "IPOP restarts allowed when the run stalls (population x ipop_factor)", min=0)
    ipop_factor: float = _f(2.0, "population multiplier at each restart", gt=1.0)
    tolfun: float = _f(1e-12, "stall: range of recent best fitness below this", min=0.0)
    tolx: float = _f(1e-11, "stall: step-size and axes below tolx * sigma0", min=0.0)


@dataclass
class GAConfig:
    """Genetic algorithm with truncation selection and Gaussian mutation (Such et al. 2017)."""

    population: int = _f(64, "offspring per generation", min=2)
    truncation: int = _f(10, "number of best offspring kept as parents", min=1)
    sigma: float = _f(0.02, "std of the Gaussian mutation", gt=0.0)
    elitism: bool = _f(True, "carry the best parent unmutated as member 0")
    reevaluate_elite: bool = _f(True, "evaluate the elite again each generation (else keep its fitness)")


@dataclass
class MAPElitesConfig:
    """MAP-Elites (Mouret & Clune 2015) over a grid or CVT archive of behaviour descriptors."""

    population: int = _f(64, "offspring per generation", min=1)
    variation: str = _f("iso_line_dd", "mutation: gaussian, or Iso+LineDD (Vassiliades & Mouret 2018)",
                        choices=("gaussian", "iso_line_dd"))
    sigma: float = _f(0.1, "std of the isotropic Gaussian mutation", gt=0.0)
    line_sigma: float = _f(0.2, "std of the directional (line) term of Iso+LineDD", min=0.0)
    init_sigma: float = _f(1.0, "std around the initial parameters while the archive is empty", gt=0.0)
    archive: str = _f("grid", "archive geometry", choices=("grid", "cvt"))
    bins: list[int] = _f([50, 50], "grid: bins per descriptor dimension", min=1)
    cells: int = _f(1000, "cvt: number of cells (centroids by k-means on uniform samples)", min=1)
    lower: list[float] = _f([-1.0, -1.0], "lower bound of each descriptor dimension")
    upper: list[float] = _f([1.0, 1.0], "upper bound of each descriptor dimension")
    qd_offset: float = _f(0.0, "QD score = sum over filled cells of (fitness - qd_offset)")


@dataclass
class POETConfig(OpenAIESConfig):
    """POET (Wang et al. 2019): environment-agent pairs, each improved by OpenAI-ES on its own rank
    subgroup; new terrains by mutation under a minimal criterion; transfers between pairs.
    The ES fields above are per pair; defaults are the reference code's."""

    population: int = _f(512, "ES members per pair and iteration (even when mirrored)", min=2)
    sigma: float = _f(0.1, "std of parameter perturbations", gt=0.0)
    sigma_decay: float = _f(0.999, "sigma multiplied by this after every ES step", gt=0.0, max=1.0)
    sigma_min: float = _f(0.01, "lower bound of sigma under decay", min=0.0)
    weight_decay: float = _f(0.01, "L2 coefficient subtracted from the gradient", min=0.0)
    learning_rate_decay: float = _f(0.9999, "learning rate multiplied by this after every ES step",
                                    gt=0.0, max=1.0)
    learning_rate_min: float = _f(0.001, "lower bound of the learning rate under decay", min=0.0)
    transfer_every: int = _f(25, "N_transfer: iterations between transfer attempts", min=1)
    mutate_every: int = _f(200, "N_mutate: iterations between environment mutations", min=1)
    max_pairs: int = _f(25, "active pairs at most; the oldest move to the archive (paper: 20)", min=1)
    repro_threshold: float = _f(200.0, "a pair's environment may reproduce once its score reaches this")
    mc_lower: float = _f(25.0, "minimal criterion: a child environment needs a score >= this (paper: 50)")
    mc_upper: float = _f(340.0, "minimal criterion: ... and <= this (paper: 300)")
    max_children: int = _f(8, "child environments tried per mutation step", min=1)
    max_admitted: int = _f(1, "child environments admitted per mutation step", min=1)
    novelty_k: int = _f(5, "novelty = mean distance to the k nearest archived environments", min=1)
    mutate: list[str] = _f(["roughness", "pit_gap", "stump_height"],
                           "terrain features that mutation changes", choices=("roughness", "pit_gap", "stump_height"))
    roughness_step: float = _f(0.6, "roughness += U(-step, step), rounded to 0.1", min=0.0)
    roughness_max: float = _f(10.0, "largest roughness", min=0.0)
    pit_gap_init: list[float] = _f([0.0, 0.8], "pit gap range when pits first appear (terrain steps)", min=0.0)
    pit_gap_step: float = _f(0.4, "each end of the pit gap range moves by -step, 0 or +step", min=0.0)
    pit_gap_max: float = _f(8.0, "largest pit gap (terrain steps)", min=0.0)
    stump_height_init: list[float] = _f([0.0, 0.4], "stump height range when stumps first appear", min=0.0)
    stump_height_step: float = _f(0.2, "each end of the stump height range moves by -step, 0 or +step", min=0.0)
    stump_height_max: float = _f(5.0, "largest stump height (terrain steps)", min=0.0)
    solved_score: float = _f(230.0, "a pair whose score reaches this has solved its terrain")
    initial_terrain: list[float] = _f([0.0, 0.0, 0.0, 0.0, 0.0], "the first pair's terrain: [roughness, "
                                      "pit lo, pit hi, stump lo, stump hi] (flat by default)", min=0.0)
    initial_terrain_seed: int = _f(-1, "the first terrain's seed (-1: derived from the run seed)", min=-1)


STRATEGY_CONFIGS: dict[str, type] = {"openai_es": OpenAIESConfig, "cem": CEMConfig, "cma_es": CMAESConfig,
                                     "sep_cma_es": CMAESConfig, "ga": GAConfig, "map_elites": MAPElitesConfig,
                                     "poet": POETConfig}
"""Algorithm name -> dataclass of its ``[strategy]`` table."""


@dataclass
class RunConfig:
    """One run: environment, policy, search strategy, budget and output."""

    name: str = _f("run", "run name, used in the default output path")
    algorithm: str = _f("openai_es", "search strategy", choices=tuple(sorted(STRATEGY_CONFIGS)))
    env: str = _f("CartPole-v1", "gymnasium id (see `mpies envs`) or module:Env-v0")
    env_kwargs: dict = _f({}, "keyword arguments passed to gymnasium.make")
    seed: int = _f(0, "run seed: perturbations, episode seeds and initial weights derive from it", min=0)
    generations: int = _f(100, "number of generations to run", min=1)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    strategy: OpenAIESConfig | CEMConfig | CMAESConfig | GAConfig | MAPElitesConfig | POETConfig = field(
        default_factory=OpenAIESConfig)
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
    data = dict(data)
    sections = {k: data.pop(k) for k in ("policy", "strategy", "noise", "rollout", "output") if k in data}
    config = _build(RunConfig, data, "")
    for key, section_cls in _SECTION_TYPES.items():
        setattr(config, key, _build(section_cls, sections.get(key, {}), key))
    config.strategy = _build(STRATEGY_CONFIGS[config.algorithm], sections.get("strategy", {}), "strategy")
    _check_cross_fields(config)
    return config


def _check_cross_fields(config: RunConfig) -> None:
    s = config.strategy
    if isinstance(s, MAPElitesConfig):
        dims = len(s.lower)
        if len(s.upper) != dims or (s.archive == "grid" and len(s.bins) != dims):
            raise ConfigError(f"strategy.upper: lower, upper (and bins for a grid) need one entry per "
                              f"descriptor dimension; got {len(s.lower)}, {len(s.upper)}, {len(s.bins)}")
        if any(lo >= hi for lo, hi in zip(s.lower, s.upper)):
            raise ConfigError(f"strategy.upper: got {s.upper}; every upper bound must exceed its lower bound {s.lower}")
    if isinstance(s, GAConfig) and s.truncation > s.population:
        raise ConfigError(f"strategy.truncation: got {s.truncation}; must be <= strategy.population ({s.population})")
    if isinstance(s, POETConfig):
        if config.env != "bipedal_terrain":
            raise ConfigError(f"env: got {config.env!r}; algorithm = \"poet\" evolves BipedalWalker terrains: "
                              f"set env = \"bipedal_terrain\"")
        for name in ("pit_gap_init", "stump_height_init"):
            lo_hi = getattr(s, name)
            if len(lo_hi) != 2 or lo_hi[0] > lo_hi[1]:
                raise ConfigError(f"strategy.{name}: got {lo_hi}; expected [low, high] with low <= high")
        if s.optimizer != "adam":
            raise ConfigError(f"strategy.optimizer: got {s.optimizer!r}; POET pairs use \"adam\"")
        t = s.initial_terrain
        if len(t) != 5 or t[1] > t[2] or t[3] > t[4]:
            raise ConfigError(f"strategy.initial_terrain: got {t}; expected [roughness, pit lo, pit hi, "
                              f"stump lo, stump hi] with lo <= hi")
        if s.mc_lower > s.mc_upper:
            raise ConfigError(f"strategy.mc_lower: got {s.mc_lower}; must be <= strategy.mc_upper ({s.mc_upper})")
    if getattr(s, "mirrored", False) and s.population % 2:
        raise ConfigError(
            f"strategy.population: got {s.population}; must be even when strategy.mirrored = true"
        )
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
