"""RELIABILITY.md names, for each promise, the test that proves it: every name must exist,
so a renamed or deleted test cannot leave a promise standing unproved."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def defined_tests(path: Path) -> set[str]:
    return set(re.findall(r"^\s*(?:async )?def (test_\w+)", path.read_text(), re.M))


def test_every_test_named_in_reliability_md_exists():
    checked = 0
    for line in (ROOT / "RELIABILITY.md").read_text().splitlines():
        files = re.findall(r"`((?:tests|services|libs)/[\w/.-]+)", line)
        names = set(re.findall(r"`[^`]*?(test_\w+)(?:\[[^\]]*\])?`", line))
        names |= set(re.findall(r"::(test_\w+)", line))
        if not files:
            assert not names, f"a test named without its file: {line}"
            continue
        paths = [ROOT / f.split("::")[0] for f in files]
        for path in paths:
            assert path.exists(), f"RELIABILITY.md names {path.relative_to(ROOT)}, which is gone"
        defined = set().union(*(defined_tests(p) for p in paths if p.is_file()))
        names = {n for n in names if not any(n == Path(f).stem for f in files)}
        missing = names - defined
        assert not missing, f"RELIABILITY.md names tests that do not exist: {sorted(missing)}"
        checked += len(names) + len(paths)
    assert checked > 20
