"""``minirec reproduce TABLE``: run the configs of a published table.

    minirec reproduce --list                   the tables and their rows
    minirec reproduce ncf --quick              every row with a [quick] table on a
                                               small slice (recorded rows too)
    minirec reproduce rating --only ml1m-mf    one row (repeatable)
    minirec reproduce rating --rerun           run the recorded rows too
    minirec reproduce rating --out DIR         write DIR/runs/<table>/<row>.json
                                               and the table file in DIR

A full run writes into ``benchmarks/results`` when run from the repository (it
exists), a quick run only with ``--out``. A progress line per row goes to stderr.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from ._io import CliError, emit

#: where a full run writes its records and tables (from the repository root)
_DEFAULT_OUT = Path("benchmarks") / "results"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _listing() -> tuple[dict, str]:
    from ..experiments import table_configs, table_names

    obj, lines = {"command": "reproduce", "tables": {}}, []
    for t in table_names():
        cfgs = table_configs(t)
        obj["tables"][t] = [
            {
                "row": c.row,
                "title": c.title,
                "model": c.model,
                "runs": c.recorded is None,
                "quick": c.recorded is None or bool(c.quick),
            }
            for c in cfgs
        ]
        lines.append(f"{t} ({len(cfgs)} rows)")
        width = max(len(c.row) for c in cfgs)
        for c, row in zip(cfgs, obj["tables"][t]):
            how = "runs"
            if c.recorded is not None:
                rec = c.recorded["metrics"]
                how = "recorded, not re-run" if rec else "not measured"
                got = _measured(_DEFAULT_OUT / "runs" / t / f"{c.row}.json")
                if got is not None:
                    row["measured"] = got.get("date")
                    how = f"measured by --rerun, {got.get('date')}"
            lines.append(f"  {c.row:<{width}}  {c.title}  [{how}]")
    lines.append("\n`minirec reproduce TABLE [--quick] [--only ROW]` runs a table.")
    return obj, "\n".join(lines)


def _pick(cfgs: list, only: list[str] | None, table: str) -> list:
    if not only:
        return cfgs
    rows = [c.row for c in cfgs]
    for r in only:
        if r not in rows:
            close = difflib.get_close_matches(r, rows, n=3)
            hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
            raise CliError(
                f"--only {r}: table {table} has no row {r!r}; {hint}"
                f"`minirec reproduce --list` shows its rows"
            )
    return [c for c in cfgs if c.row in only]


def _out_dir(args: argparse.Namespace) -> Path | None:
    if args.out:
        return Path(args.out)
    return _DEFAULT_OUT if not args.quick and _DEFAULT_OUT.is_dir() else None


def _line(cfg, rec: dict) -> str:
    from ..experiments.tables import minirec_cell, peer_cell, reference_cell

    secs = rec.get("seconds")
    text = (
        f"{cfg.name}: {cfg.title}  {' / '.join(cfg.metrics)} {minirec_cell(cfg, rec)}"
        f"  [{rec.get('protocol')}]"
    )
    if secs is not None:
        text += f"  {secs:.1f} s"
    ref = reference_cell(cfg)
    if ref != "-":
        text += f"\n    reference {ref}"
    peer, _ = peer_cell(cfg, rec)
    if peer != "-":
        text += f"\n    same run: {peer}"
    return text


def _measured(path: Path | None) -> dict | None:
    """The record at `path` when it holds a full measured run, else None."""
    import json

    try:
        rec = json.loads(path.read_text(encoding="utf-8")) if path else None
    except (OSError, ValueError):
        return None
    ok = rec and rec.get("status") == "measured" and not rec.get("quick")
    return rec if ok else None


def _runner(args, cfgs):
    """`run` for one row of `cfgs`; sequential rows that share a fit
    (:func:`~minirec.experiments.sequential.fit_groups`) are fitted once, when
    the first of them comes."""
    from ..experiments import run

    if not cfgs or cfgs[0].table != "sequential":
        return lambda cfg: run(cfg, quick=args.quick, say=_say, rerun=args.rerun)
    from ..experiments.sequential import fit_groups, run_many

    group = {c.row: g for g in fit_groups(cfgs, args.quick) for c in g}
    done: dict[str, dict] = {}

    def one(cfg) -> dict:
        if cfg.row not in done:
            g = group[cfg.row]
            recs = run_many(g, quick=args.quick, say=_say, rerun=args.rerun)
            done.update(zip((c.row for c in g), recs))
        return done.pop(cfg.row)

    return one


def _run_rows(args, cfgs, out, records, lines) -> None:
    from ..experiments.runner import write_json

    def path_of(cfg):
        return None if out is None else out / "runs" / cfg.table / f"{cfg.row}.json"

    def served(cfg) -> bool:  # a recorded row: its figure, not a fit
        return cfg.recorded is not None and not (
            args.rerun or (args.quick and bool(cfg.quick))
        )

    # a measured record (from --rerun) outranks a recorded figure
    kept = {c.row: _measured(path_of(c)) for c in cfgs if served(c)}
    run = _runner(args, [c for c in cfgs if kept.get(c.row) is None])
    for n, cfg in enumerate(cfgs, 1):
        what = "recorded" if served(cfg) else "running"
        _say(f"[{n}/{len(cfgs)}] {cfg.name} ({cfg.title}): {what}")
        path = path_of(cfg)
        rec = kept.get(cfg.row) or run(cfg)
        records.append(rec)
        line = _line(cfg, rec)
        lines.append(line)
        _say("    " + line.split("\n")[0].split(": ", 1)[1])
        if path is not None:
            write_json(path, rec)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ..experiments import ConfigError, table_configs
    from ..experiments.runner import clear_cache
    from ..experiments.tables import write_table

    if args.list:
        obj, text = _listing()
        emit(args, obj, text)
        return 0
    if not args.table:
        raise CliError("give a TABLE (or --list to see them)")
    try:
        cfgs = _pick(table_configs(args.table), args.only, args.table)
    except ConfigError as e:
        raise CliError(str(e)) from None
    out = _out_dir(args)
    records, lines = [], []
    try:
        _run_rows(args, cfgs, out, records, lines)
    finally:
        clear_cache()
    written = None
    if out is not None:
        written = str(write_table(args.table, out))
        lines.append(f"\nwritten: {written} and {out / 'runs' / args.table}/")
    obj = {
        "command": "reproduce",
        "table": args.table,
        "quick": bool(args.quick),
        "rows": records,
        "out": written,
    }
    emit(args, obj, "\n".join(lines))
    return 0


def add_parser(sub, out_json) -> None:
    sp = sub.add_parser("reproduce", help="run the configs behind a published table")
    sp.add_argument("table", nargs="?", help="rating, ncf, sequential or ctr")
    sp.add_argument("--list", action="store_true", help="the tables and their rows")
    sp.add_argument(
        "--quick", action="store_true", help="every row on a small slice, few epochs"
    )
    sp.add_argument(
        "--rerun",
        action="store_true",
        help="also run the rows that carry a recorded figure (their config must "
        "name the model's hyperparameters)",
    )
    sp.add_argument(
        "--only", action="append", metavar="ROW", help="run this row only (repeatable)"
    )
    sp.add_argument(
        "--out",
        metavar="DIR",
        help="write DIR/runs/TABLE/ROW.json and the table file (default for a full "
        "run: benchmarks/results when it exists)",
    )
    out_json(sp)
    sp.set_defaults(func=cmd_reproduce)
