"""The seed's eight states and the only moves between them."""

from __future__ import annotations

import logging

from core.errors import IllegalTransition
from core.production import MaestroState, Production

__all__ = ["TRANSITIONS", "go"]

logger = logging.getLogger(__name__)

S = MaestroState
TRANSITIONS: dict[MaestroState, frozenset[MaestroState]] = {
    S.IDLE: frozenset({S.GATHERING_PARAMS, S.PLANNING}),
    S.GATHERING_PARAMS: frozenset({S.GATHERING_PARAMS, S.PLANNING, S.IDLE}),
    S.PLANNING: frozenset({S.CONSULTING, S.GATHERING_PARAMS, S.IDLE}),
    S.CONSULTING: frozenset({S.EXECUTING, S.REVIEWING, S.IDLE}),
    S.EXECUTING: frozenset({S.REVIEWING, S.GATHERING_PARAMS, S.IDLE}),
    S.REVIEWING: frozenset({S.ITERATING, S.COMPLETE, S.EXECUTING, S.IDLE}),
    S.ITERATING: frozenset({S.CONSULTING, S.REVIEWING, S.IDLE}),
    S.COMPLETE: frozenset({S.ITERATING, S.REVIEWING, S.IDLE}),
}
"""The legal moves of the state machine; anything else raises :class:`IllegalTransition`.

Within a state, :class:`core.production.Awaiting` says what it waits for (a song, the
reference's analysis, the stems) and :class:`core.production.Topic` which question is open.
"""


def go(production: Production, target: MaestroState) -> None:
    """Move ``production`` to ``target``, recording the move in its trail."""
    if target not in TRANSITIONS[production.state]:
        raise IllegalTransition(production.state.value, target.value)
    logger.debug("%s: %s -> %s", production.id, production.state.value, target.value)
    production.trail.append(f"{production.state.value}->{target.value}")
    del production.trail[:-200]
    production.state = target
