"""Output, errors and input files of the command line.

Every command prints either text or, with ``--json``, exactly one JSON object
on stdout; an error is one line on stderr or, with ``--json``, one
``{"error": ..., "type": ...}`` object on stdout, with a non-zero exit.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MinirecError


class CliError(MinirecError):
    """A command line that cannot be run as given; the message says what to change."""


class UsageError(CliError):
    """Arguments argparse rejects (unknown option, missing value, bad choice)."""

    def __init__(self, message: str, usage: str = ""):
        super().__init__(message)
        self.usage = usage


def jsonable(x: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays as numbers and lists, a NaN or
    infinite float as None (JSON has no NaN or Infinity)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        return jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    return str(x)


def dumps(obj: Any) -> str:
    """Strict JSON (``allow_nan=False``: a stray NaN fails here, not in a reader)."""
    return json.dumps(jsonable(obj), allow_nan=False)


def emit(args: Any, obj: dict, text: str) -> None:
    """Print `obj` as JSON with ``--json``, else `text`."""
    print(dumps(obj) if getattr(args, "json", False) else text)


def warn(args: Any, message: str) -> None:
    """One ``minirec: warning: ...`` line on stderr; kept in ``args.warnings`` so a
    JSON result can carry it too."""
    print(f"minirec: warning: {message}", file=sys.stderr)
    if args is not None:
        if not hasattr(args, "warnings"):
            args.warnings = []
        args.warnings.append(message)


# library messages name Python arguments; a CLI user needs the flag instead
_CLI_TERMS = [
    (re.compile(r"pass download=True \(CLI: --download\)"), "pass --download"),
    (re.compile(r"pass path='([^']*)'"), r"pass --data \1"),
    (re.compile(r"\bpath='([^']*)'"), r"--data \1"),
    (re.compile(r"pass unknown='popular'"), "pass --cold-start"),
    (
        re.compile(r"use evaluate_full or evaluate_sampled"),
        "use --protocol full or --protocol sampled",
    ),
    (re.compile(r"\bevaluate_full\b"), "--protocol full"),
    (re.compile(r"\bevaluate_sampled\b"), "--protocol sampled"),
    (re.compile(r"\bevaluate_ratings\b"), "--protocol rating"),
]


def cli_terms(message: str) -> str:
    """`message` with Python argument names replaced by the flags that set them."""
    for pattern, repl in _CLI_TERMS:
        message = pattern.sub(repl, message)
    return message


def error_report(
    exc: BaseException, json_mode: bool, message: str | None = None
) -> str:
    """The one line (or JSON object) that reports `exc` (or `message` about it)."""
    text = str(exc) if message is None else message
    message = " ".join(cli_terms(text).split()) or type(exc).__name__  # one line
    if json_mode:
        return dumps({"error": message, "type": type(exc).__name__})
    return f"minirec: error: {message}"


def read_id_file(path: str, flag: str, *, with_values: bool = False):
    """Ids of a text file, one per line (blank lines and ``#`` comments skipped).

    With `with_values` a line may be ``id,value`` (e.g. ``item,rating``); returns
    (ids, values, line numbers) with value None where a line has none, else
    (ids, line numbers). Ids stay text; the model maps them to its id type.
    """
    p = Path(path)
    if not p.is_file():
        what = "not a regular file" if p.exists() else "no such file"
        raise CliError(f"{flag} {path}: {what} (give a text file, one id per line)")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CliError(f"{flag} {path}: cannot be read as UTF-8 text ({e})") from None
    ids, values, lines = [], [], []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [s.strip() for s in re.split(r"[,\t]", line)]
        if len(parts) > (2 if with_values else 1) or not parts[0]:
            want = "an id or id,value" if with_values else "one id"
            raise CliError(f"{path}:{n}: expected {want} per line, got {raw!r}")
        value = None
        if len(parts) == 2:
            try:
                value = float(parts[1])
            except ValueError:
                raise CliError(
                    f"{path}:{n}: {parts[1]!r} is not a number (lines are id or "
                    "id,rating)"
                ) from None
            if not math.isfinite(value):
                raise CliError(f"{path}:{n}: the rating {parts[1]!r} is not finite")
        ids.append(parts[0])
        values.append(value)
        lines.append(n)
    if not ids:
        raise CliError(f"{flag} {path}: the file holds no ids")
    return (ids, values, lines) if with_values else (ids, lines)


def file_places(path: str, lines: list[int]) -> list[str]:
    """``path:line`` of each id read by :func:`read_id_file`."""
    return [f"{path}:{n}" for n in lines]


def check_known(model: Any, ids: list, which: str, places: list | None, hint: str = ""):
    """Raise a CliError naming the first id the model lacks and where it came from
    (`places`: a file line or flag per id)."""
    index = model.user_index if which == "user" else model.item_index
    idx = index(np.asarray(ids, dtype=object), missing="ignore")
    bad = np.flatnonzero(idx < 0)
    if len(bad):
        k = int(bad[0])
        at = f"{places[k]}: " if places else ""
        count = model.n_users if which == "user" else model.n_items
        more = f" ({len(bad):,} unknown ids in all)" if len(bad) > 1 else ""
        raise CliError(
            f"{at}unknown {which} id {ids[k]!r}: the model was trained on "
            f"{count:,} {which}s and this is not one of them{more}{hint}"
        )
