"""The dependency-injector containers: shared parts, composed once per process kind."""

from scheduler_app.containers.parts import default_worker_id, open_in_order, provide, settle, task_environment
from scheduler_app.containers.processes import ClusterContainer, StandaloneContainer, WorkerContainer

__all__ = [
    "ClusterContainer",
    "StandaloneContainer",
    "WorkerContainer",
    "default_worker_id",
    "open_in_order",
    "provide",
    "settle",
    "task_environment",
]
