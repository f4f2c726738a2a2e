"""What every strategy shares: its typed :class:`State`, and the ask/tell bookkeeping of
:class:`Strategy` (order, shapes, descriptors, the generation counter).

As in evosax, the hyperparameters are the config (a dataclass beside each algorithm) and the
:class:`State` is what changes each generation, which is exactly what a checkpoint saves.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import ClassVar

import numpy as np


def best_first(fitness: np.ndarray) -> np.ndarray:
    """Member indices sorted by fitness, best first; failed members (NaN) last; ties by index."""
    return np.argsort(-fitness, kind="stable")  # numpy sorts NaN after every number, -inf included


def _leaves(state, prefix: str = ""):
    """``(flat name, owning dataclass, field name, live array)`` of every array of a dataclass of
    arrays, in field order; nested dataclasses add ``name/`` to the flat names."""
    for f in dataclasses.fields(state):
        value = getattr(state, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, f"{prefix}{f.name}/")
        else:
            yield prefix + f.name, state, f.name, value


def attribute_docs(cls) -> dict[str, str]:
    """Field name -> its text in the ``Attributes:`` section of ``cls``'s (Google style) docstring,
    continuation lines joined (``a, b: text`` documents both), reST's double backquotes dropped:
    the one place a state's fields are documented, which the run file's ``doc`` attributes repeat."""
    lines = (inspect.getdoc(cls) or "").splitlines()
    out = {}
    start = lines.index("Attributes:") + 1 if "Attributes:" in lines else len(lines)
    names = []
    for line in lines[start:]:
        entry = re.match(r"    (\w+(?:, \w+)*): (.*)", line)  # "name: text" or "a, b: text"
        if entry:
            names = entry.group(1).split(", ")
            out.update({name: entry.group(2).strip() for name in names})
        elif names and line.startswith("        "):
            out.update({name: f"{out[name]} {line.strip()}" for name in names})
        else:
            break
    return {name: text.replace("``", "") for name, text in out.items()}  # plain text, no reST


def _view(state, arrays: dict[str, np.ndarray], prefix: str = ""):
    """A dataclass of the structure of ``state`` over ``arrays[flat name]`` (no copies)."""
    kwargs = {}
    for f in dataclasses.fields(state):
        value = getattr(state, f.name)
        kwargs[f.name] = (_view(value, arrays, f"{prefix}{f.name}/") if dataclasses.is_dataclass(value)
                          else arrays[prefix + f.name])
    return type(state)(**kwargs)


@dataclasses.dataclass
class State:
    """Base of a strategy's state: a dataclass whose fields are numpy arrays, or nested
    dataclasses of arrays (an optimizer's state from :mod:`mpies.optim`).

    Shapes and dtypes are fixed when the state is built and never change during a run; the
    strategy writes into the arrays (``state.theta[...] = ...``) instead of replacing them, so
    a checkpoint is written in place and views stay valid (POET's pair table holds every pair's
    state as rows of stacked arrays, see :meth:`view`). Every subclass has a ``generation``
    field, int64 ``()``: tells so far.
    """

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat name -> the live array (nested names joined with ``/``, e.g. ``optimizer/m``)."""
        return {name: value for name, _, _, value in _leaves(self)}

    def docs(self) -> dict[str, str]:
        """Flat name (as :meth:`arrays`) -> its description from the class docstrings ("" if none)."""
        return {name: attribute_docs(type(owner)).get(field, "") for name, owner, field, _ in _leaves(self)}

    def to_dict(self) -> dict[str, np.ndarray]:
        """Flat name -> a copy of each array: what a checkpoint saves."""
        return {k: np.array(v) for k, v in self.arrays().items()}

    def load_dict(self, flat: dict[str, np.ndarray]) -> None:
        """Copy ``flat`` (as :meth:`to_dict` makes it) into the arrays, in place.

        Raises:
            ValueError: a name is missing or an array has another shape than this state's.
        """
        arrays = self.arrays()
        missing = sorted(set(arrays) - set(flat))
        if missing:
            raise ValueError(f"state lacks {', '.join(missing)}")
        for name, current in arrays.items():
            value = np.asarray(flat[name])
            if value.shape != current.shape:
                raise ValueError(f"state {name!r} has shape {value.shape}, expected {current.shape}")
            current[...] = value

    def view(self, arrays: dict[str, np.ndarray]):
        """A state of this structure whose fields are ``arrays[flat name]`` themselves (no copy),
        e.g. ``{k: table[k][slot, ...] for k in state.arrays()}``: one row of a table of states."""
        return _view(self, arrays)

    def copy(self):
        """An independent state with equal arrays."""
        return self.view(self.to_dict())


class Strategy:
    """Base of the ask/tell strategies.

    A subclass sets ``config`` (its hyperparameters), ``noise`` (a source from
    :mod:`mpies.noise`) and ``state`` (its :class:`State`) in its constructor
    ``Cls(config, theta0, noise)``, and implements ``_ask() -> population``,
    ``member_params(population, member)``, ``mean`` and ``_tell(population, fitness,
    descriptors) -> info``. This class checks the ask/tell order, the fitness and descriptor
    shapes, and advances ``state.generation``. A population has ``size``, ``generation`` and
    ``episode_group(member)`` (members of one group play the same episode seeds).

    Attributes:
        uses_descriptors: ``tell`` needs behaviour descriptors float64 ``(n, descriptor_dims)``
            (and refuses them otherwise).
        family: ``"search"`` (a search distribution: history has ``sigma``, ``update_norm``) or
            ``"qd"`` (an archive: ``archive_filled``, ``qd_score``, ``new_cells``,
            ``improved_cells``); it names the run file's history columns.
        archive: None, or the archive (:mod:`mpies.qd.archives`) the strategy fills.
    """

    uses_descriptors: ClassVar[bool] = False
    family: ClassVar[str] = "search"
    archive = None
    descriptor_dims = 0
    """Columns of ``descriptors`` when :attr:`uses_descriptors`."""

    config: object
    noise: object
    state: State
    _population = None

    @property
    def generation(self) -> int:
        """Tells so far (the key generation of the next ``ask``)."""
        return int(self.state.generation)

    @property
    def population_size(self) -> int:
        """Members per generation (``config.population`` unless the strategy changes it)."""
        return self.config.population

    @property
    def mean(self) -> np.ndarray:  # pragma: no cover - abstract
        """float64 ``(num_params,)``: what a noiseless evaluation plays (a live view: copy it to keep it)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything a checkpoint must hold to continue bitwise-identically: flat, fixed shapes."""
        return self.state.to_dict()

    def load_state_dict(self, flat: dict[str, np.ndarray]) -> None:
        """Continue from a :meth:`state_dict` (in place; a pending ``ask`` is dropped)."""
        self.state.load_dict(flat)
        self._population = None

    def ask(self):
        """The population of the current generation (no communication needed)."""
        if self._population is not None:
            raise RuntimeError("ask() called twice without tell(): evaluate the population first")
        self._population = self._ask()
        return self._population

    def tell(self, population, fitness: np.ndarray,
             descriptors: np.ndarray | None = None) -> dict[str, float]:
        """Update from the evaluated population.

        Args:
            population: what the last :meth:`ask` returned.
            fitness: float ``(n,)`` in member order, maximised; NaN marks a failed member.
            descriptors: float ``(n, descriptor_dims)`` in member order when
                :attr:`uses_descriptors`, else None.

        Returns:
            Diagnostics for the history: ``sigma`` and ``update_norm`` (family ``"search"``), or
            ``archive_filled``, ``qd_score``, ``new_cells`` and ``improved_cells`` (``"qd"``).
        """
        if population is not self._population:
            raise RuntimeError("tell() must receive the population returned by the last ask()")
        n = population.size
        fitness = np.array(fitness, dtype=np.float64)
        if fitness.shape != (n,):
            raise ValueError(f"fitness has shape {fitness.shape}, expected ({n},)")
        name = type(self).__name__
        if not self.uses_descriptors:
            if descriptors is not None:
                raise TypeError(f"{name} takes no descriptors: call tell(population, fitness)")
        elif descriptors is None:
            raise TypeError(f"{name} needs behaviour descriptors: tell(population, fitness, descriptors) "
                            f"with descriptors of shape ({n}, {self.descriptor_dims})")
        else:
            descriptors = np.asarray(descriptors, dtype=np.float64)
            if descriptors.shape != (n, self.descriptor_dims):
                raise ValueError(f"descriptors have shape {descriptors.shape}, "
                                 f"expected ({n}, {self.descriptor_dims})")
        info = self._tell(population, fitness, descriptors)
        self.state.generation[...] = self.generation + 1
        self._population = None
        return info

    def member_params(self, population, member: int) -> np.ndarray:  # pragma: no cover - abstract
        """Parameters of ``member``: float64 ``(num_params,)``, rebuilt from its key."""
        raise NotImplementedError

    def _ask(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _tell(self, population, fitness: np.ndarray,
              descriptors: np.ndarray | None) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError
