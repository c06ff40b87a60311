"""What the SQL backends share about their versioned schemas."""

from __future__ import annotations

from scheduler_errors import SchedulerError


class SchemaNotCurrent(SchedulerError):
    """The database schema is not the one this scheduler was built for.

    Either it is behind (unmigrated, or migrated by an older scheduler: run `scheduler migrate`)
    or ahead (migrated by a newer scheduler: upgrade this one). The detail is one line that says
    which, and what to do.
    """

    title = "Database schema not current"
