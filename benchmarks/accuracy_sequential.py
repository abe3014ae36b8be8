"""The sequential rows (rsc15 sessions, SASRec Games).

The published rows are configs run by ``minirec reproduce`` (one TOML file per row
under ``minirec/experiments/configs/``, hyperparameters, validation and reference
named in it); this script only runs those tables, so ``benchmarks/run_all.py
--accuracy`` keeps working:

    MINIREC_DATA=../shared/data python benchmarks/accuracy_sequential.py [--quick]
    (= minirec reproduce sequential ...)

``write_section`` writes a section of benchmarks/results/sequential.md
(bench_sequential.py's speed section).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import reproduce_tables  # noqa: E402

RESULT = Path(__file__).resolve().parent / "results" / "sequential.md"


def write_section(name: str, text: str) -> None:
    """Replace the block between <!-- name --> markers of sequential.md."""
    RESULT.parent.mkdir(exist_ok=True)
    old = RESULT.read_text() if RESULT.exists() else "# Sequential models\n"
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{text.strip()}\n{end}"
    if start in old and end in old:
        a, b = old.index(start), old.index(end) + len(end)
        new = old[:a] + block + old[b:]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    RESULT.write_text(new)
    print(f"section {name} written to {RESULT}", flush=True)


TABLES = ("sequential",)


def main(argv: list[str] | None = None) -> int:
    return reproduce_tables(TABLES, argv)


if __name__ == "__main__":
    sys.exit(main())
