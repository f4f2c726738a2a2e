"""Quality diversity: archives of elites over a descriptor space, and MAP-Elites.

Pure numpy, no MPI, no I/O, like :mod:`mpies.strategies`. :class:`MAPElites` follows the strategy
interface with ``tell(population, fitness, descriptors)``; its archive is a struct of fixed-shape
arrays (``archive.state``), identical on every rank.
"""

from .archives import (IMPROVED, NEW, NOT_ADDED, AddPlan, ArchiveBase, CVTArchive, GridArchive,
                       cvt_centroids, make_archive)
from .map_elites import SELECTION_STREAM, MAPElites, MAPElitesConfig, MAPElitesPopulation, MAPElitesState

__all__ = ["IMPROVED", "NEW", "NOT_ADDED", "SELECTION_STREAM", "AddPlan", "ArchiveBase",
           "CVTArchive", "GridArchive", "MAPElites", "MAPElitesConfig", "MAPElitesPopulation",
           "MAPElitesState", "cvt_centroids", "make_archive"]
