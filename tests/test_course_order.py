"""Concepts in order: no lesson uses a concept before a lesson has taught it.

lessons/course.toml declares, per lesson, what it teaches and what it uses. The
declaration is checked two ways: every concept used is taught by the same or an
earlier lesson (the course order is the sorted order of the stems), and each lesson's
code is scanned for the library symbols a concept stands for (``Adam(`` -> adam,
``numba_ops`` -> numba-kernels, ...), so a lesson cannot use one without declaring it.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

tomllib = pytest.importorskip(
    "tomllib", reason="reading lessons/course.toml needs Python 3.11"
)
ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
COURSE = tomllib.loads((LESSONS / "course.toml").read_text())
STEM = re.compile(r"^\d\d[a-z]?_[a-z0-9_]+$")
LESSON_FILES = sorted(p for p in LESSONS.glob("[0-9][0-9]*_*.py") if STEM.match(p.stem))


def code_of(path: Path) -> str:
    """The lesson's source with comments (and so its markdown cells) removed."""
    out = []
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            out.append(tok)
    return tokenize.untokenize(out)


def symbols_used(code: str) -> dict[str, str]:
    """concept -> the first symbol of that concept found in `code`."""
    found = {}
    for concept, patterns in COURSE["symbols"].items():
        for pat in patterns:
            m = re.search(pat, code, flags=re.M)
            if m:
                found[concept] = m.group(0).strip()
                break
    return found


def taught_at() -> dict[str, str]:
    out: dict[str, str] = {}
    for stem in sorted(COURSE["lessons"]):
        for concept in COURSE["lessons"][stem]["teaches"]:
            out.setdefault(concept, stem)
    return out


def test_every_lesson_is_declared_and_every_declared_lesson_exists():
    stems = {p.stem for p in LESSON_FILES}
    declared = set(COURSE["lessons"])
    missing = sorted(stems - declared)
    assert not missing, f"lessons/course.toml has no entry for {missing}"
    gone = sorted(
        s for s in declared - stems if not COURSE["lessons"][s].get("planned")
    )
    assert not gone, f"lessons/course.toml lists {gone}, which do not exist"


def test_each_concept_is_taught_once():
    seen: dict[str, str] = {}
    problems = []
    for stem in sorted(COURSE["lessons"]):
        for concept in COURSE["lessons"][stem]["teaches"]:
            if concept in seen:
                problems.append(f"{concept}: taught by {seen[concept]} and {stem}")
            seen[concept] = stem
    assert not problems, "\n".join(problems)


def test_every_concept_used_is_taught_no_later():
    where = taught_at()
    problems = []
    for stem in sorted(COURSE["lessons"]):
        for concept in COURSE["lessons"][stem]["uses"]:
            if concept not in where:
                problems.append(f"{stem} uses {concept}, which no lesson teaches")
            elif where[concept] > stem:
                problems.append(
                    f"{stem} uses {concept} before {where[concept]} teaches it"
                )
    assert not problems, "\n".join(problems)


def test_every_symbol_concept_is_taught_somewhere():
    where = taught_at()
    missing = sorted(c for c in COURSE["symbols"] if c not in where)
    assert not missing, f"symbols for concepts no lesson teaches: {missing}"


@pytest.mark.parametrize("path", LESSON_FILES, ids=[p.stem for p in LESSON_FILES])
def test_the_code_uses_only_declared_concepts_taught_no_later(path):
    entry = COURSE["lessons"].get(path.stem)
    if entry is None:
        pytest.fail(f"lessons/course.toml has no entry for {path.stem}")
    declared = set(entry["teaches"]) | set(entry["uses"])
    where = taught_at()
    problems = []
    for concept, symbol in symbols_used(code_of(path)).items():
        if concept not in declared:
            problems.append(
                f"its code uses {symbol!r} ({concept}) but course.toml does not "
                "declare it"
            )
        if where.get(concept, "") > path.stem:
            problems.append(
                f"its code uses {symbol!r} ({concept}), taught later in "
                f"{where[concept]}"
            )
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_the_scan_finds_what_it_should(tmp_path):
    """The scanner ignores comments and finds symbols in code and strings."""
    src = 'x = 1  # Adam( in a comment\nmodel = MF(k=8, backend="numba")\n'
    path = tmp_path / "scan_probe.py"
    path.write_text(src)
    found = symbols_used(code_of(path))
    assert "adam" not in found
    assert {"mf", "numba-kernels"} <= set(found)
