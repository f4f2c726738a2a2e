"""Quality diversity: archives of elites over a descriptor space, the emitters that feed them,
MAP-Elites, CMA-ME and CMA-MAE.

Pure numpy, no MPI, no I/O, like :mod:`mpies.strategies`. The strategies follow the strategy
interface with ``tell(population, fitness, descriptors)``; the archive is a struct of fixed-shape
arrays (``archive.state``), identical on every rank.
"""

from .archives import (IMPROVED, NEW, NOT_ADDED, AddPlan, ArchiveBase, CVTArchive, GridArchive,
                       cvt_centroids, make_archive)
from .cma_me import CMAME, CMAMAEConfig, CMAMEConfig, CMAMEState
from .emitters import ESEmitter, EmitterTable, VariationEmitter
from .map_elites import SELECTION_STREAM, MAPElites, MAPElitesConfig, MAPElitesState, QDPopulation, QDStrategy

__all__ = ["CMAME", "IMPROVED", "NEW", "NOT_ADDED", "SELECTION_STREAM", "AddPlan", "ArchiveBase", "CMAMAEConfig",
           "CMAMEConfig", "CMAMEState", "CVTArchive", "ESEmitter", "EmitterTable", "GridArchive", "MAPElites",
           "MAPElitesConfig", "MAPElitesState", "QDPopulation", "QDStrategy", "VariationEmitter", "cvt_centroids",
           "make_archive"]
