"""The scheduling loop: cron fires, dispatch in priority order, retries, timeouts, lost runs."""

from scheduler_dispatcher.loop import Dispatcher

__all__ = ["Dispatcher"]
