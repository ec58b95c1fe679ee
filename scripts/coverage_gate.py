"""Gate the branch coverage that ``./scripts/test.sh`` measured (the ``.coverage`` file).

    .venv/bin/python scripts/coverage_gate.py    # exit 0, or 1 naming each gate missed

Two gates, both configured in pyproject.toml:

- ``[tool.cargohold.coverage] full``: paths under src/cargohold (a folder ends in ``/``) whose
  every line and branch must be covered;
- ``[tool.coverage.report] fail_under``: the floor for the whole package. It only goes up: when
  the measured figure is above it by a point or more, this says so, so the floor gets raised in
  the same commit that earned it.
"""

from __future__ import annotations

import io
import sys
import tomllib
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "cargohold"


def _gated(relative: str, full: list[str]) -> bool:
    return any(relative.startswith(p) if p.endswith("/") else relative == p for p in full)


def main() -> int:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    full: list[str] = config["tool"]["cargohold"]["coverage"]["full"]
    floor = float(config["tool"]["coverage"]["report"]["fail_under"])

    cov = coverage.Coverage(
        data_file=str(ROOT / ".coverage"), config_file=str(ROOT / "pyproject.toml")
    )
    cov.load()
    data = cov.get_data()
    measured = {Path(f).resolve() for f in data.measured_files()}

    problems: list[str] = []
    gated = sorted(
        p for p in PACKAGE.rglob("*.py") if _gated(p.relative_to(PACKAGE).as_posix(), full)
    )
    for path in gated:
        relative = path.relative_to(PACKAGE).as_posix()
        if path not in measured:
            problems.append(f"{relative}: never imported by the tests (gated at 100%)")
            continue
        # analysis2: (file, statements, excluded, missing lines, missing formatted);
        # branches: report() on one file with a throwaway stream gives the percentage.
        percent = cov.report(morfs=[str(path)], file=io.StringIO(), skip_covered=False)
        if percent < 100.0:
            missing = cov.analysis2(str(path))[4]
            problems.append(f"{relative}: {percent:.2f}% < 100% (missing: {missing or 'branches'})")

    total = cov.report(file=io.StringIO(), skip_covered=True)
    if total < floor:
        problems.append(f"whole package: {total:.2f}% < floor {floor:.2f}% (pyproject.toml)")

    if problems:
        for problem in problems:
            print(f"coverage_gate: {problem}", file=sys.stderr)
        return 1
    print(
        f"coverage_gate: {len(gated)} files at 100%; whole package {total:.2f}% "
        f"(floor {floor:.2f}%)"
    )
    if total >= floor + 1.0:
        print(f"coverage_gate: raise fail_under in pyproject.toml to {int(total)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
