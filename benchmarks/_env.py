"""What every benchmark prints and saves: versions, hardware, load, and the command.

from _env import environment, markdown_table, write_result
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _version(mod: str) -> str:
    try:
        m = __import__(mod)
        return getattr(m, "__version__", "?")
    except Exception:
        return "not installed"


def environment(extra: tuple[str, ...] = ()) -> dict:
    """Versions, CPU, thread count and load average, as a dict of strings."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    env = {
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "python": platform.python_version(),
        "cpu": f"{cpu} x {os.cpu_count()}",
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "command": " ".join(["python"] + sys.argv),
    }
    for mod in ("numpy", "numba", "minirec", *extra):
        env[mod] = _version(mod)
    return env


def markdown_table(rows: list[dict], columns: list[str] | None = None) -> str:
    if not rows:
        return "(no rows)"
    columns = columns or list(rows[0])

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
        return str(v)

    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(out)


def env_block(env: dict) -> str:
    return "\n".join(f"- {k}: `{v}`" for k, v in env.items())


def write_result(name: str, title: str, body: str, env: dict) -> Path:
    """Write benchmarks/results/<name>.md (replacing it) and print it."""
    RESULTS.mkdir(exist_ok=True)
    text = f"# {title}\n\n{body}\n\n## Environment\n\n{env_block(env)}\n"
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    print(text)
    print(f"written to {path}")
    return path


def reproduce_tables(tables: tuple[str, ...], argv: list[str] | None = None) -> int:
    """``minirec reproduce TABLE`` for each of `tables` with the script's arguments
    (the accuracy scripts are pointers to it); the worst exit status."""
    from minirec.cli import main as cli

    args = sys.argv[1:] if argv is None else argv
    rc = 0
    for table in tables:
        rc = max(rc, cli(["reproduce", table, *args]) or 0)
    return rc
