"""Architectural rules as a check (STYLE.md §2.13), run by `make lint`.

- no service imports another service, and libs/common imports no service;
- runtime code (libs/common, services/*/src) never imports sportslog_testing, the dev-only
  test support that no image installs; and sportslog_testing imports no service either;
- asyncpg is imported only where SQL lives: a service's queries module and common's
  database plumbing; everything else talks to the database through those.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("auth", "activities", "notifier", "gateway")
COMMON_SQL_MODULES = {"db.py", "migrations.py", "outbox.py", "inbox.py"}


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
        if "sportslog_testing" in names:
            problems.append(f"{path.relative_to(ROOT)}: libs/common imports sportslog_testing")
        if "asyncpg" in names and path.name not in COMMON_SQL_MODULES:
            problems.append(f"{path.relative_to(ROOT)}: asyncpg outside the database modules")
    for service in SERVICES:
        for path in sorted((ROOT / f"services/{service}/src").rglob("*.py")):
            names = imports(path)
            for other in SERVICES:
                if other != service and f"sportslog_{other}" in names:
                    problems.append(f"{path.relative_to(ROOT)}: imports sportslog_{other}")
            if "sportslog_testing" in names:
                problems.append(f"{path.relative_to(ROOT)}: imports sportslog_testing")
            if "asyncpg" in names and path.name != "queries.py" and "queries" not in path.parts:
                problems.append(f"{path.relative_to(ROOT)}: asyncpg outside queries")
    for path in sorted((ROOT / "libs/testing/src").rglob("*.py")):
        names = imports(path)
        for service in SERVICES:
            if f"sportslog_{service}" in names:
                problems.append(
                    f"{path.relative_to(ROOT)}: libs/testing imports sportslog_{service}"
                )
    return problems


if __name__ == "__main__":
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        raise SystemExit(1)
    print("architecture: ok")
