"""Every algorithm a config can name: the search strategies plus quality-diversity (qd/).

Lives above both packages (qd builds on the strategies' base class), so neither imports the other's
registry.
"""

from .qd.map_elites import MAPElites
from .strategies import STRATEGIES

ALGORITHMS = {**STRATEGIES, "map_elites": MAPElites}
"""Algorithm name (the config's ``algorithm``) -> constructor ``(config, theta0, noise)``."""
