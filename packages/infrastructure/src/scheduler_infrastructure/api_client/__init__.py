"""Adapters that reach the scheduler through its REST API (what a worker process uses)."""

from scheduler_infrastructure.api_client.presence import HttpWorkerPresence

__all__ = ["HttpWorkerPresence"]
