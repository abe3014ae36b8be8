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

TABLES = ("ncf", "ctr")


def main(argv: list[str] | None = None) -> int:
    from minirec.cli import main as cli

    args = sys.argv[1:] if argv is None else argv
    rc = 0
    for table in TABLES:
        rc = max(rc, cli(["reproduce", table, *args]) or 0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
