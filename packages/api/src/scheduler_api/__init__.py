"""The Litestar REST API: `create_app(...)` builds a fresh app over the use cases it is given."""

from scheduler_api.app import API_PREFIX, create_app
from scheduler_api.routes.health import Readiness

__all__ = ["API_PREFIX", "Readiness", "create_app"]
