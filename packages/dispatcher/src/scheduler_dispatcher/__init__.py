"""The scheduling loop: cron fires, dispatch in priority order, retries, timeouts, lost runs."""

from scheduler_dispatcher.loop import Dispatcher
from scheduler_dispatcher.status import StatusApplier

__all__ = ["Dispatcher", "StatusApplier"]
