"""The neural rows (GMF, NCF-MLP, NeuMF, ConvNCF, AutoRec, DeepFM).

The published rows are configs run by ``minirec reproduce`` (one TOML file per row
under ``minirec/experiments/configs/``, hyperparameters, validation and reference
named in it); this script only runs those tables, so ``benchmarks/run_all.py
--accuracy`` keeps working:

    MINIREC_DATA=../shared/data python benchmarks/accuracy_neural.py [--quick]
    (= minirec reproduce ncf / ctr ...)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import reproduce_tables  # noqa: E402

TABLES = ("ncf", "ctr")


def main(argv: list[str] | None = None) -> int:
    return reproduce_tables(TABLES, argv)


if __name__ == "__main__":
    sys.exit(main())
