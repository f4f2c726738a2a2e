"""mpies: evolutionary policy search on MPI.

Every rank runs the same deterministic algorithm; perturbations are rebuilt from keys instead of
being sent, and only small per-member scalars are gathered each generation.

The Python API (:mod:`mpies.api`), imported on first use so that ``import mpies`` stays cheap:

* ``mpies.run(config, **overrides)`` -- run a config in this process, returns the ``Outcome``
* ``mpies.load_policy(path, which="best")`` -- a stored policy: ``obs -> action``, normaliser applied
* ``mpies.read_history(path)`` -- a run's history as a numpy structured array
"""

__version__ = "0.2.0"

__all__ = ["__version__", "load_policy", "read_history", "run"]

_API = ("load_policy", "read_history", "run")


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'mpies' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
