"""Finding executors through the `scheduler.executors` entry points (entry points made here)."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from scheduler_errors import InvalidInput
from scheduler_worker import ENTRY_POINT_GROUP, discover_executors
from scheduler_worker import plugins as plugins_module

MODULE = "tests.worker_fixtures.plugins"


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch):
    """Declare entry points as installed distributions would: `installed(name="module:attr", ...)`."""

    def declare(**points: str) -> None:
        declared = [EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in points.items()]
        other = EntryPoint("elsewhere", f"{MODULE}:instance", "some.other.group")

        def entry_points(*, group: str) -> list[EntryPoint]:
            return [point for point in [*declared, other] if point.group == group]

        monkeypatch.setattr(plugins_module, "entry_points", entry_points)

    return declare


def test_an_entry_point_may_name_a_class_a_factory_or_an_instance(installed) -> None:
    installed(
        named=f"{MODULE}:NamedExecutor", factory=f"{MODULE}:build_factory", instance=f"{MODULE}:instance"
    )

    executors = discover_executors()

    assert sorted(executor.name for executor in executors) == ["factory", "instance", "named"]


def test_names_pick_some_of_the_installed_executors(installed) -> None:
    installed(named=f"{MODULE}:NamedExecutor", factory=f"{MODULE}:build_factory")

    assert [executor.name for executor in discover_executors(["factory"])] == ["factory"]


def test_nothing_installed_means_no_executors(installed) -> None:
    installed()

    assert discover_executors() == []


def test_a_missing_plugin_that_was_asked_for_is_an_error(installed) -> None:
    installed(named=f"{MODULE}:NamedExecutor")

    with pytest.raises(
        InvalidInput, match=r"no executor plugin named 'echo' is installed \(installed: named\)"
    ):
        discover_executors(["echo"])


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        (
            f"{MODULE}:broken_factory",
            r"the executor plugin 'bad' \(.*\) failed: RuntimeError\('no licence key'\)",
        ),
        (
            "tests.worker_fixtures.nowhere:Thing",
            r"the executor plugin 'bad' \(.*\) failed: ModuleNotFoundError",
        ),
        (f"{MODULE}:not_an_executor", r"the executor plugin 'bad' \(.*\) failed: TypeError"),
        (f"{MODULE}:nameless", r"the plugin 'bad' \(.*\) is not an executor"),
        (
            f"{MODULE}:NamedExecutor",
            r"the plugin 'bad' builds an executor named 'named'; the names must match",
        ),
    ],
)
def test_a_plugin_that_cannot_serve_is_an_error_naming_it(installed, value: str, complaint: str) -> None:
    installed(bad=value)

    with pytest.raises(InvalidInput, match=complaint):
        discover_executors()
