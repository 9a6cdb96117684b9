"""How long a running job has left: the estimate every progress update carries.

A job reports only the fraction it has done. The queue that runs it (the inline pool or a
Redis worker) knows when it started and how long jobs of its kind usually take, and turns
the two into ``JobEvent.eta_s`` with a :class:`ProgressClock`, so the terminal, Discord and
Slack all show the same "about 20 s left".
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["ProgressClock", "remaining_s"]

_MIN_FRACTION = 0.03
"""Below this the linear estimate is mostly start-up noise (imports, reading the stems)."""


def remaining_s(*, elapsed_s: float, fraction: float, typical_s: float | None) -> float | None:
    """Seconds a job probably has left, or ``None`` when nothing sensible can be said.

    Two estimates are blended: the linear one, ``elapsed_s * (1 - fraction) / fraction``,
    which gets better as the job goes on, and the typical run time of the kind minus the time
    already spent, which is all there is at the start. The linear one is weighted by
    ``fraction``, so the typical time leads early and the job's own pace leads late.

    Parameters
    ----------
    elapsed_s : float >= 0
        Seconds since the job started.
    fraction : float in [0, 1]
        How much of the job is done.
    typical_s : float > 0 or None
        How long jobs of this kind usually take (an average of recent runs), if known.

    Examples
    --------
    >>> remaining_s(elapsed_s=10.0, fraction=0.5, typical_s=None)
    10.0
    >>> remaining_s(elapsed_s=10.0, fraction=0.0, typical_s=30.0)
    20.0
    """
    fraction = min(1.0, max(0.0, fraction))
    if fraction >= 1.0:
        return 0.0
    linear = elapsed_s * (1.0 - fraction) / fraction if fraction >= _MIN_FRACTION else None
    # a job running past its usual time: at least a little is left, never a negative time
    typical = max(typical_s - elapsed_s, 0.1 * typical_s) if typical_s else None
    if linear is None and typical is None:
        return None
    if linear is None:
        estimate = typical
    elif typical is None:
        estimate = linear
    else:
        estimate = fraction * linear + (1.0 - fraction) * typical
    return round(max(0.0, float(estimate or 0.0)), 1)


class ProgressClock:
    """Started with a job; :meth:`eta_s` gives the remaining time at each progress update.

    ``now`` is injectable so tests need not sleep.
    """

    def __init__(self, *, typical_s: float | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.typical_s = typical_s
        self._now = now
        self.started = now()

    @property
    def elapsed_s(self) -> float:
        """Seconds since the job started."""
        return self._now() - self.started

    def eta_s(self, fraction: float) -> float | None:
        """Seconds left when ``fraction`` of the job is done (see :func:`remaining_s`)."""
        return remaining_s(elapsed_s=self.elapsed_s, fraction=fraction, typical_s=self.typical_s)
