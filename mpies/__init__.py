"""mpies: evolutionary policy search on MPI.

Every rank runs the same deterministic algorithm; perturbations are rebuilt from keys instead of
being sent, and only small per-member scalars are gathered each generation.
"""

__version__ = "0.2.0"
