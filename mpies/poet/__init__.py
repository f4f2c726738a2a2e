"""POET (Wang, Lehman, Clune & Stanley 2019): environment-agent pairs that co-evolve.

Pure numpy bookkeeping, no MPI and no I/O (the loop over rank subgroups is
:mod:`mpies.poet.program`):

* :mod:`.terrains`: mutation of terrain parameters, novelty against the archive, difficulty;
* :mod:`.pairs`: the fixed-capacity table of pairs (parameters, optimiser state, environment)
  that every rank holds identically and that checkpoints hold whole;
* :mod:`.groups`: which ranks (a subgroup made with ``comm.Split``) work on which pairs.
"""
