"""Structured logging setup (tracing and metrics follow in later milestones)."""

from scheduler_observability.logs import configure_logging, get_logger

__all__ = ["configure_logging", "get_logger"]
