"""The memory a run needs, estimated from its config before anything big is allocated.

A program calls :func:`require` on every rank once its task is made (the number of parameters
and the width of the gathered rows are known then) and before the noise table, the strategy, the
archive or the episode buffers exist. A run that cannot fit on a node is a :class:`ConfigError`,
the same on every rank, e.g.::

    the run needs about 8.00 GiB per node (noise table 8.00 GiB, 2 ranks x 1.02 MiB: population
    buffers, ...), more than the 5.12 GiB available; reduce noise.table_size

The estimate counts the arrays each part keeps (float64 unless said), not Python's overhead nor
an environment's own memory: close enough to refuse sizes that cannot fit, never exact. With
``n`` parameters, ``lam`` members (the largest population a run reaches), ``T`` tasks per
generation (``lam * episodes + eval_episodes``) and rows of ``w`` float64 columns:

==================  =========  =============================================================
noise table         per node   ``table_size`` float32 (``noise.mode = "table"``)
policy parameters   per rank   ``VECTORS * n`` (mean, optimiser moments, best, member, update)
strategy model      per rank   ``matrices * n^2`` (CMA-ES, xNES: covariance and its updates)
member vectors      per rank   ``member_vectors * lam * n`` (members stacked in one update)
direction vectors   per rank   ``memory * n`` (LM-MA-ES)
population buffers  per rank   ``T * (3 w + 2) + 4 lam`` (seeds, keys, gathered rows, shaping)
archive             per rank   ``2 cells (n + dims + 4)``; CVT: its k-means samples too
task buffers        per rank   what the task allocates (episode observations, a Tetris board)
POET pairs          per rank   pair table, transfer proposals and their members' parameters
==================  =========  =============================================================

A node's limit is ``MemAvailable`` of ``/proc/meminfo``, or less where the process's cgroup
(v2 ``memory.max``, v1 ``memory.limit_in_bytes``) leaves less; a rank's is what its address-space
limit (``ulimit -v``) leaves, where one is set (every rank maps the node's noise table).
"""

from __future__ import annotations

import math
import resource
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ConfigError, RunConfig
from .qd.cma_me import CMAMEConfig
from .qd.map_elites import ArchiveConfig
from .strategies.cma_es import CMAESConfig, default_population
from .strategies.lm_ma_es import LMMAESConfig

FLOAT = 8
"""Bytes of a float64 (and of an int64)."""
VECTORS = 10
"""Parameter vectors every search keeps or builds per generation: start, mean, best, a member,
the update's sum and scratch, optimiser moments."""
GATHERED_COPIES = 3
"""Copies of each gathered row: this rank's, the gathered ones in rank order and in member order."""


@dataclass(frozen=True)
class Model:
    """What an algorithm's update holds beyond :data:`VECTORS`, in float64 arrays.

    Attributes:
        matrices: ``(n, n)`` arrays at the update's peak (state, outer products, eigendecomposition).
        member_vectors: ``(n,)`` arrays per member held at once (e.g. CMA-ES's ``z`` and ``y``).
    """

    matrices: int = 0
    member_vectors: int = 0


MODELS = {"cma_es": Model(6, 3), "sep_cma_es": Model(0, 3), "xnes": Model(6, 2), "snes": Model(0, 2),
          "lm_ma_es": Model(0, 3), "cem": Model(0, 1), "ga": Model(0, 2)}
"""Algorithm -> its :class:`Model`; an algorithm not named keeps vectors only (OpenAI-ES, PGPE,
ARS, MAP-Elites: members are rebuilt from keys, never stacked)."""


@dataclass(frozen=True)
class Part:
    """One item of the estimate.

    Attributes:
        label: what it is ("noise table").
        nbytes: its bytes (per node or per rank).
        per_rank: whether every rank holds its own.
        field: the config field that sets its size (what to reduce).
    """

    label: str
    nbytes: float
    per_rank: bool
    field: str


def node_bytes(parts: list[Part], ranks: int) -> float:
    """Bytes of ``parts`` on a node of ``ranks`` ranks (with ``ranks = 1``: what one rank maps)."""
    return sum(p.nbytes * (ranks if p.per_rank else 1) for p in parts)


def largest_population(config: RunConfig, n: int) -> float:
    """Members of the largest generation of the run (CMA-ES: after its last IPOP restart)."""
    s = config.strategy
    lam = s.population or default_population(n)
    if isinstance(s, CMAESConfig) and s.restarts:
        lam *= math.exp(min(s.restarts * math.log(s.ipop_factor), 700.0))
    return lam


def _population_field(config: RunConfig, lam: float) -> str:
    """The field that makes the most tasks of a generation."""
    r = config.rollout
    if r.eval_episodes > lam * r.episodes:
        return "rollout.eval_episodes"
    return "rollout.episodes" if r.episodes > lam else config.strategy.population_field


def _archive_parts(config: RunConfig, n: int, dims: int) -> list[Part]:
    """MAP-Elites: the archive's arrays (and their checkpoint copy), and a CVT's k-means."""
    s = config.strategy
    if s.archive == "grid":
        cells = math.prod(float(b) for b in s.bins)  # a float: inf rather than an overflow
        return [Part("archive", 2.0 * cells * (n + dims + 4) * FLOAT, True, "strategy.bins")]
    samples = max(10_000, 4 * s.cells)  # as mpies.qd.archives.make_archive
    return [Part("archive", 2.0 * s.cells * (n + 2 * dims + 4) * FLOAT, True, "strategy.cells"),
            Part("CVT k-means samples", samples * (dims + 3.0) * FLOAT, True, "strategy.cells")]


def _poet_parts(config: RunConfig, n: int) -> list[Part]:
    """POET: every slot's OpenAI-ES state, the ES steps' rows, and a transfer's proposals (one ES
    per route, the parameters of each proposal member)."""
    s = config.strategy
    slots = s.max_pairs + s.max_admitted
    routes = slots * (slots - 1)
    rows = (slots + routes) * (s.population + 1) * 2 * GATHERED_COPIES
    return [Part("POET pair table", slots * 4.0 * n * FLOAT, True, "strategy.max_pairs"),
            Part("POET transfer proposals", routes * (4.0 + s.population) * n * FLOAT, True, "strategy.max_pairs"),
            Part("population buffers", rows * FLOAT, True, "strategy.population")]


def estimate(config: RunConfig, task, row_width: int) -> list[Part]:
    """The parts of the memory ``config`` needs, largest first.

    Args:
        config: the run.
        task: what the program evaluates on: ``num_params``, ``params_field`` (the field that
            sets them), ``descriptor_dim``, ``buffer_bytes`` and ``buffer_field`` (its own scratch
            arrays per rank and the field that sets their size).
        row_width: float64 columns of one gathered task row.
    """
    n = task.num_params
    parts = [Part("policy parameters", VECTORS * n * FLOAT, True, task.params_field),
             Part("task buffers", task.buffer_bytes, True, task.buffer_field)]
    if config.noise.mode == "table":
        parts.append(Part("noise table", config.noise.table_size * 4.0, False, "noise.table_size"))
    if config.algorithm == "poet":
        parts += _poet_parts(config, n)
        return sorted(parts, key=lambda p: -p.nbytes)
    lam = largest_population(config, n)
    model = MODELS.get(config.algorithm, Model())
    if isinstance(config.strategy, LMMAESConfig):  # its m direction vectors
        m = config.strategy.memory or default_population(n)
        parts.append(Part("direction vectors", m * n * FLOAT, True, "strategy.memory"))
    if isinstance(config.strategy, CMAMEConfig):  # every emitter's C and B (diagonals when separable)
        per_emitter = 2 * n + 4.0 if config.strategy.covariance == "separable" else 2 * float(n) ** 2 + 4 * n
        parts.append(Part("emitter covariances", config.strategy.emitters * per_emitter * FLOAT, True,
                          "strategy.emitters"))
    tasks = lam * config.rollout.episodes + config.rollout.eval_episodes
    parts += [Part("strategy model", model.matrices * float(n) ** 2 * FLOAT, True, task.params_field),
              Part("member vectors", model.member_vectors * lam * n * FLOAT, True, "strategy.population"),
              Part("population buffers", (tasks * (GATHERED_COPIES * row_width + 2) + 4 * lam) * FLOAT, True,
                   _population_field(config, lam))]
    if isinstance(config.strategy, ArchiveConfig):
        parts += _archive_parts(config, n, task.descriptor_dim or len(config.strategy.lower))
    return sorted(parts, key=lambda p: -p.nbytes)


# --------------------------------------------------------------------------- the machine's limit

def _read_number(path: Path) -> int | None:
    """The integer in a one-number file (``max`` and unreadable files: None)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_room(root: Path, proc_cgroup: Path) -> int | None:
    """Bytes the process's memory cgroup (or one above it) still allows, None when unlimited."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2
            base, limit_name, usage_name = root, "memory.max", "memory.current"
        elif "memory" in controllers.split(","):  # cgroup v1
            base, limit_name, usage_name = root / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes"
        else:
            continue
        folder = base / path.lstrip("/")
        if not folder.is_dir():  # a namespaced view: the process's cgroup is the root
            folder = base
        while True:
            limit, usage = _read_number(folder / limit_name), _read_number(folder / usage_name)
            if limit is not None and limit < 2**60:  # v1 writes "unlimited" as about 2**63
                rooms.append(limit - (usage or 0))
            if folder == base:
                break
            folder = folder.parent
    return min(rooms) if rooms else None


def available_bytes(meminfo: Path = Path("/proc/meminfo"), cgroup_root: Path = Path("/sys/fs/cgroup"),
                    proc_cgroup: Path = Path("/proc/self/cgroup")) -> int | None:
    """Bytes this node can still give: ``MemAvailable``, or the cgroup's room where smaller; None
    where neither is known (not Linux)."""
    limits = []
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    room = _cgroup_room(cgroup_root, proc_cgroup)
    if room is not None:
        limits.append(room)
    return min(limits) if limits else None


def address_space_room(status: Path = Path("/proc/self/status")) -> int | None:
    """Bytes this process may still map under its address-space limit (``ulimit -v``); None when
    there is no limit."""
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY:
        return None
    try:
        used = next(int(line.split()[1]) * 1024 for line in status.read_text().splitlines()
                    if line.startswith("VmSize:"))
    except (OSError, ValueError, IndexError, StopIteration):
        used = 0
    return limit - used


# --------------------------------------------------------------------------- the check

def size_text(nbytes: float) -> str:
    """``nbytes`` in binary units with three digits, e.g. ``"7.28 TiB"``, ``"8.00 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1000 or unit == "PiB":
            break
        nbytes /= 1024
    if unit == "B" or nbytes >= 100:
        return f"{nbytes:.0f} {unit}"
    return f"{nbytes:.{1 if nbytes >= 10 else 2}f} {unit}"


def refusal(parts: list[Part], ranks: int, available: float, limit: str = "available") -> str:
    """The one-line message of a run whose ``parts`` need more than the ``available`` bytes of a
    node of ``ranks`` ranks (``ranks = 0``: of one rank, under the limit named ``limit``)."""
    on_node = sorted(parts, key=lambda p: -p.nbytes * (max(ranks, 1) if p.per_rank else 1))
    shown = [f"{p.label} {f'{ranks} x ' if p.per_rank and ranks > 1 else ''}{size_text(p.nbytes)}"
             for p in on_node[:3] if p.nbytes]
    where = "per node" if ranks else "per rank"
    return (f"the run needs about {size_text(node_bytes(parts, max(ranks, 1)))} {where} ({', '.join(shown)}), "
            f"more than the {size_text(available)} {limit}; reduce {on_node[0].field}")


def require(config: RunConfig, comm, task, row_width: int) -> None:
    """Refuse a run that needs more memory than some node (or rank) has; collective: every rank
    calls it, with the arguments of :func:`estimate`.

    Raises:
        ConfigError: on every rank alike, naming the estimate and the limit that falls shortest
            (see :func:`refusal`).
    """
    parts = estimate(config, task, row_width)
    unknown = -1.0
    node_room, rank_room = available_bytes(), address_space_room()
    mine = [comm.ranks_on_node(), unknown if node_room is None else node_room,
            unknown if rank_room is None else rank_room]
    worst = None  # (need / room, ranks (0: one rank's limit), room)
    for ranks, node_room, rank_room in comm.allgather_varying(np.array([mine], dtype=np.float64), 3):
        for need, room, on in ((node_bytes(parts, int(ranks)), node_room, int(ranks)),
                               (node_bytes(parts, 1), rank_room, 0)):
            if room != unknown and need > room and (worst is None or need / max(room, 1.0) > worst[0]):
                worst = (need / max(room, 1.0), on, room)
    if worst is not None:
        _, on, room = worst
        raise ConfigError(refusal(parts, on, room, "available" if on else
                                  "that this rank's address-space limit (ulimit -v) leaves"))
