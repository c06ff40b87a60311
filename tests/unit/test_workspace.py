"""Each workspace member declares exactly the distributions its code imports."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
MEMBERS = sorted([*ROOT.glob("packages/*/pyproject.toml"), ROOT / "apps/scheduler/pyproject.toml"])
#: Distributions that are needed at run time without being imported by name.
DATA_ONLY = {
    "tzdata",  # zoneinfo reads its zone files when the OS has none
    "httptools",  # uvicorn's HTTP parser, chosen by name in its settings
}

#: Distributions imported under another name: OpenTelemetry's share the `opentelemetry` namespace.
IMPORTED_AS = {
    "opentelemetry_api": "opentelemetry",
    "opentelemetry_sdk": "opentelemetry",
    "opentelemetry_exporter_otlp_proto_http": "opentelemetry",
}


def declared(pyproject: Path) -> set[str]:
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=\[; ]", dep, maxsplit=1)[0].lower() for dep in dependencies}
    distributions = {name.replace("-", "_") for name in names} - DATA_ONLY
    return {IMPORTED_AS.get(name, name) for name in distributions}


def imported(source: Path, own: str) -> set[str]:
    found: set[str] = set()
    for file in source.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {own, "__future__"}


@pytest.mark.parametrize("pyproject", MEMBERS, ids=lambda path: path.parent.name)
def test_a_member_declares_what_it_imports_and_nothing_else(pyproject: Path) -> None:
    source = pyproject.parent / "src"
    (module,) = [path.name for path in source.iterdir() if path.is_dir() and not path.name.startswith(".")]

    assert imported(source, module) == declared(pyproject)
