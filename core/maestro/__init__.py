"""The Maestro: the conversation engine, as a package split along its steps.

``engine`` holds :class:`Maestro` (entry points, locks, dispatch by intent and state);
``machine`` the eight states and their moves; ``gathering``, ``planning``, ``iterating``,
``versions`` and ``events`` the steps; ``queueing`` the typed job requests; ``parts`` the
injected pieces and small shared rules.
"""

from core.maestro.engine import Maestro
from core.maestro.machine import TRANSITIONS
from core.maestro.parts import MaestroLimits, production_dir_name, upload_cap_bytes

__all__ = ["TRANSITIONS", "Maestro", "MaestroLimits", "production_dir_name", "upload_cap_bytes"]
