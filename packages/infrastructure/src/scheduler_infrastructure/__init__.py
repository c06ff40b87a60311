"""Adapters: SQLite repositories, in-process queue."""
