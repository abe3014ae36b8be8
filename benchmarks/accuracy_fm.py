"""The FM and KNN rows (FM with side features, Item/UserKNN).

The published rows are configs run by ``minirec reproduce`` (one TOML file per row
under ``minirec/experiments/configs/``, hyperparameters, validation and reference
named in it); this script only runs those tables, so ``benchmarks/run_all.py
--accuracy`` keeps working:

    MINIREC_DATA=../shared/data python benchmarks/accuracy_fm.py [--quick]
    (= minirec reproduce rating ...)

``write_section`` writes a section of benchmarks/results/fm_knn.md (bench_fm_knn.py's
speed sections).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import env_block, reproduce_tables  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CMD = "MINIREC_DATA=../shared/data python benchmarks/bench_fm_knn.py"

TITLES = {
    "speed": "Speed: FM and KNN kernels (bench_fm_knn.py)",
    "speed-run2": "Speed, repeated run (bench_fm_knn.py --section speed-run2)",
}


def write_section(key: str, body: str, env: dict, command: str | None = None) -> Path:
    """Replace (or append) the section `key` of results/fm_knn.md."""
    path = RESULTS / "fm_knn.md"
    RESULTS.mkdir(exist_ok=True)
    text = path.read_text() if path.exists() else "# FM and KNN: accuracy and speed\n"
    block = (
        f"<!-- {key} -->\n## {TITLES.get(key, key)}\n\n{body}\n\n"
        f"Command: `{command or f'{CMD} {key}'}`\n\n{env_block(env)}\n<!-- /{key} -->"
    )
    pat = re.compile(rf"<!-- {re.escape(key)} -->.*?<!-- /{re.escape(key)} -->", re.S)
    text = (
        pat.sub(lambda _: block, text)
        if pat.search(text)
        else text.rstrip() + "\n\n" + block + "\n"
    )
    path.write_text(text)
    print(block)
    return path


TABLES = ("rating",)


def main(argv: list[str] | None = None) -> int:
    return reproduce_tables(TABLES, argv)


if __name__ == "__main__":
    sys.exit(main())
