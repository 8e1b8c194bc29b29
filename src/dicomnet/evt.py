"""``from dicomnet import evt``: the event names (``evt.EVT_C_STORE``, ...) and :class:`Event`."""

from dicomnet.events import *  # noqa: F403
from dicomnet.events import (
    INTERVENTION_EVENTS,
    NOTIFICATION_EVENTS,
    Event,
    EventType,
    get_event,
)

__all__ = [
    "INTERVENTION_EVENTS",
    "NOTIFICATION_EVENTS",
    "Event",
    "EventType",
    "get_event",
    *(e.name for e in INTERVENTION_EVENTS + NOTIFICATION_EVENTS),
]
