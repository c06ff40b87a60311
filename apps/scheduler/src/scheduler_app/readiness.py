"""Readiness: does each backing service answer?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Readiness:
    """Asks the database and the queue whether they answer."""

    def __init__(self, *, database: Any, queue: Any) -> None:
        self._database = database
        self._queue = queue

    async def check(self) -> Mapping[str, bool]:
        """Each component's state; a component that raises counts as down."""
        return {"database": await _answers(self._database), "queue": await _answers(self._queue)}


async def _answers(component: Any) -> bool:
    try:
        return bool(await component.ping())
    except Exception:
        return False
