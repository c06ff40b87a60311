"""The API schemas agree with the domain they map to."""

from __future__ import annotations

import msgspec

from scheduler_api.mapping import task_changes, task_draft
from scheduler_api.schemas import TaskCreate, TaskPatch
from scheduler_application import EDITABLE_FIELDS
from scheduler_domain import Task


def test_a_minimal_create_gets_the_domain_defaults() -> None:
    draft = task_draft(TaskCreate(name="n", command="c"))

    assert draft == Task(name="n", command="c")


def test_patch_offers_exactly_the_editable_fields() -> None:
    assert set(TaskPatch.__struct_fields__) == EDITABLE_FIELDS


def test_patch_changes_hold_only_what_was_sent_and_keep_null() -> None:
    patch = msgspec.json.decode(b'{"schedule": null, "tags": ["a"]}', type=TaskPatch)

    assert task_changes(patch) == {"schedule": None, "tags": ("a",)}
