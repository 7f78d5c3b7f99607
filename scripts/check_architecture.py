"""Architectural rules as a check (STYLE.md §2.13), run by `make lint`.

- no service imports another service, and libs/common imports no service;
- asyncpg is imported only where SQL lives: a service's queries module and common's
  database plumbing; everything else talks to the database through those.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("auth", "activities", "notifier", "gateway")
COMMON_SQL_MODULES = {"db.py", "migrations.py", "outbox.py", "inbox.py", "devstack.py"}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def check() -> list[str]:
    problems: list[str] = []
    for path in sorted((ROOT / "libs/common/src").rglob("*.py")):
        names = imports(path)
        for service in SERVICES:
            if f"sportslog_{service}" in names:
                problems.append(
                    f"{path.relative_to(ROOT)}: libs/common imports sportslog_{service}"
                )
        in_testing = "testing" in path.parts
        if "asyncpg" in names and path.name not in COMMON_SQL_MODULES and not in_testing:
            problems.append(f"{path.relative_to(ROOT)}: asyncpg outside the database modules")
    for service in SERVICES:
        for path in sorted((ROOT / f"services/{service}/src").rglob("*.py")):
            names = imports(path)
            for other in SERVICES:
                if other != service and f"sportslog_{other}" in names:
                    problems.append(f"{path.relative_to(ROOT)}: imports sportslog_{other}")
            if "asyncpg" in names and path.name != "queries.py" and "queries" not in path.parts:
                problems.append(f"{path.relative_to(ROOT)}: asyncpg outside queries")
    return problems


if __name__ == "__main__":
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        raise SystemExit(1)
    print("architecture: ok")
