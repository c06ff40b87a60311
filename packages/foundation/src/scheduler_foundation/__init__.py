"""Ports the outer layers meet on: executors, the message queue, the clock, signals, lifecycle, tracing,
alert channels."""

from scheduler_foundation.alerting import AlertChannel, AlertNotice
from scheduler_foundation.clock import Clock, SystemClock
from scheduler_foundation.coalescing import Coalescer
from scheduler_foundation.executor import ExecutorRegistry, TaskCheck, TaskExecutor
from scheduler_foundation.lifecycle import Service
from scheduler_foundation.presence import WorkerPresence
from scheduler_foundation.queue import Delivery, MessageQueue
from scheduler_foundation.signals import DispatchWakeup, DispatchWakeupListener, RunReporter
from scheduler_foundation.tracing import ExecutionSpan, NoTracing, RequestSpan, Tracer

__all__ = [
    "AlertChannel",
    "AlertNotice",
    "Clock",
    "Coalescer",
    "Delivery",
    "DispatchWakeup",
    "DispatchWakeupListener",
    "ExecutionSpan",
    "ExecutorRegistry",
    "MessageQueue",
    "NoTracing",
    "RequestSpan",
    "RunReporter",
    "Service",
    "SystemClock",
    "TaskCheck",
    "TaskExecutor",
    "Tracer",
    "WorkerPresence",
]
