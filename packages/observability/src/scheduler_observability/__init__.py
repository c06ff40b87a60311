"""Structured logging, tracing and metrics helpers."""
