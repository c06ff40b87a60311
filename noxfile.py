"""Developer sessions: `uv run nox -s lint` and `uv run nox -s tests`."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests"]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format check), mypy, and the import-linter layer contracts."""
    session.run("ruff", "check", ".", external=True)
    session.run("ruff", "format", "--check", ".", external=True)
    session.run("mypy", external=True)
    session.run("lint-imports", external=True)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (unit, conformance, integration, API, end-to-end)."""
    session.run("pytest", *session.posargs, external=True)
