"""The course: every lesson runs in quick mode, and the course map in lessons/README.md
covers every FORMULAS.md tag and erratum with lessons that really name them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
FORMULAS = ROOT.parent / "shared" / "sources" / "FORMULAS.md"
ERRATA = [f"E{k}" for k in range(1, 9)]
LESSON_FILES = sorted(
    p for p in LESSONS.glob("[0-9][0-9]*_*.py") if re.match(r"\d\d[a-z]?_", p.name)
)


def formula_tags() -> list[str]:
    if not FORMULAS.exists():
        pytest.skip("../shared/sources/FORMULAS.md not beside the checkout")
    return re.findall(r"^- `([0-9a-z.-]+)`", FORMULAS.read_text(), flags=re.M)


def course_map() -> dict[str, list[str]]:
    """tag or erratum -> lesson stems, from the coverage tables of lessons/README.md."""
    text = (LESSONS / "README.md").read_text()
    out: dict[str, list[str]] = {}
    for m in re.finditer(
        r"^\|\s*`?([0-9]{3}-[0-9a-z.-]+|E[1-8])`?\s*\|(.*)$", text, flags=re.M
    ):
        out[m.group(1)] = re.findall(r"\b(\d\d[a-z]?_[a-z0-9_]+)\b", m.group(2))
    return out


def test_every_tag_and_erratum_has_a_lesson_that_names_it():
    cmap = course_map()
    problems = []
    for tag in formula_tags() + ERRATA:
        stems = cmap.get(tag, [])
        if not stems:
            problems.append(f"{tag}: no lesson in the course map")
        for stem in stems:
            path = LESSONS / f"{stem}.py"
            if not path.exists():
                problems.append(f"{tag}: {stem}.py does not exist")
            elif not re.search(
                rf"(?<![\w-]){re.escape(tag)}(?![\w])", path.read_text()
            ):
                problems.append(f"{tag}: {stem}.py does not name it")
    assert not problems, "\n".join(problems)


def test_every_lesson_is_in_the_map():
    text = (LESSONS / "README.md").read_text()
    missing = [p.name for p in LESSON_FILES if p.stem not in text]
    assert LESSON_FILES, "no lessons found"
    assert not missing, f"lessons missing from lessons/README.md: {missing}"


def _notebook_builder():
    """lessons/build_notebooks.py, or None when jupytext / nbclient are missing."""
    try:
        import jupytext  # noqa: F401
        import nbclient  # noqa: F401
    except ImportError:
        return None
    sys.path.insert(0, str(LESSONS))
    try:
        import build_notebooks
    finally:
        sys.path.remove(str(LESSONS))
    return build_notebooks


@pytest.mark.parametrize("path", LESSON_FILES, ids=[p.stem for p in LESSON_FILES])
def test_lesson_runs_in_quick_mode(path):
    """Each lesson runs once, as an executed notebook in lessons/_build/ through
    build_notebooks.build (cached by content hash, so the book reuses it); without
    jupytext / nbclient it runs as a script instead."""
    bn = _notebook_builder()
    if bn is None:
        env = {**os.environ, "MPLBACKEND": "Agg", "FULL": "0", "MINIREC_PROGRESS": "0"}
        r = subprocess.run(
            [sys.executable, str(path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, (
            f"{path.name} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        )
        return
    import nbformat

    out = bn.build(path, quick=True)  # a failing cell raises CellExecutionError
    nb = nbformat.read(out, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), (
        f"{out.name}: a code cell was not executed"
    )
    errors = [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, f"{out.name}: error output {errors[0].get('ename')}"
