"""What the SQLite and PostgreSQL backends share: the listing query builder and schema errors."""

from scheduler_infrastructure.sql.listing import (
    Dialect,
    Select,
    audit_listing,
    page_of,
    run_listing,
    task_listing,
)
from scheduler_infrastructure.sql.schema import SchemaNotCurrent

__all__ = [
    "Dialect",
    "SchemaNotCurrent",
    "Select",
    "audit_listing",
    "page_of",
    "run_listing",
    "task_listing",
]
