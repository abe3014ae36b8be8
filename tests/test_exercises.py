"""Every lesson exercise is checkable: a stub in the lesson, a check that passes on the
reference solution and fails (AssertionError) on the untouched stub.

Generic over every lesson file: the headings ``### Exercise NN.k: ...`` are read from
the markdown cells, the stubs ``def exercise_NN_k`` are extracted from the lesson with
``ast`` (so the lesson is not run), and each exercise is one test case.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
LESSON_FILES = sorted(
    p for p in LESSONS.glob("[0-9][0-9]*_*.py") if re.match(r"\d\d[a-z]?_", p.name)
)

sys.path.insert(0, str(LESSONS))
import _exercises  # noqa: E402

sys.path.remove(str(LESSONS))

HEADING = re.compile(r"^# ### Exercise (\d\d[a-z]?)\.(\d+):", re.M)


def headings(path: Path) -> list[str]:
    """Exercise ids ("06_2") in the order the lesson's headings name them."""
    return [f"{a}_{b}" for a, b in HEADING.findall(path.read_text())]


def stubs(path: Path) -> dict[str, ast.FunctionDef]:
    """Top-level ``def exercise_*`` nodes of a lesson, by exercise id."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        node.name.removeprefix("exercise_"): node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("exercise_")
    }


def attempted(path: Path) -> set[str]:
    """Ids passed to a top-level ``attempt("NN_k", exercise_NN_k)`` call."""
    out = set()
    for node in ast.parse(path.read_text()).body:
        call = getattr(node, "value", None)
        if (
            isinstance(call, ast.Call)
            and getattr(call.func, "id", None) == "attempt"
            and len(call.args) == 2
            and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[1], ast.Name)
            and call.args[1].id == f"exercise_{call.args[0].value}"
        ):
            out.add(call.args[0].value)
    return out


def compile_stub(path: Path, node: ast.FunctionDef):
    """The stub as a function with only ``np`` in scope (stubs are self-contained)."""
    module = ast.Module(body=[node], type_ignores=[])
    namespace = {"np": np}
    exec(compile(module, str(path), "exec"), namespace)
    return namespace[node.name]


CASES = [(p, ex) for p in LESSON_FILES for ex in headings(p)]


@pytest.mark.parametrize("path", LESSON_FILES, ids=[p.stem for p in LESSON_FILES])
def test_exercise_headings_stubs_checks_and_solutions_match(path):
    """Each heading has a stub, an attempt() call, a check and a solution."""
    text = path.read_text()
    ids, defs = headings(path), stubs(path)
    prefix = path.stem.split("_", 1)[0]
    problems = []
    if re.search(r"^# \*\*Exercises?\.\*\*", text, re.M):
        problems.append(
            "prose-only '**Exercises.**' paragraph: give each a heading, stub and check"
        )
    if re.search(r"^# ## Exercises", text, re.M) and not ids:
        problems.append(
            "an '## Exercises' section with no '### Exercise NN.k:' heading"
        )
    for ex in ids:
        if not ex.startswith(prefix + "_"):
            problems.append(
                f"Exercise {ex} is numbered for another lesson (prefix {prefix})"
            )
    if len(set(ids)) != len(ids):
        problems.append(f"duplicate exercise headings: {ids}")
    for ex in sorted(set(ids) - set(defs)):
        problems.append(f"Exercise {ex}: no top-level stub def exercise_{ex}")
    for ex in sorted(set(defs) - set(ids)):
        problems.append(f"def exercise_{ex} has no '### Exercise' heading")
    for ex in sorted(set(ids) - attempted(path)):
        problems.append(f'Exercise {ex}: no attempt("{ex}", exercise_{ex}) call')
    for ex in ids:
        # the heading cell and the stub cell both carry the jupytext tag "exercise"
        head = re.search(
            rf"^(.*)\n# ### Exercise {ex.replace('_', '.', 1)}:", text, re.M
        )
        if not head or 'tags=["exercise"]' not in head.group(1):
            problems.append(f'Exercise {ex}: heading cell lacks tags=["exercise"]')
        stub = re.search(
            rf'# %% tags=\["exercise"\]\n(?:#.*\n|\s*\n)*def exercise_{ex}\(', text
        )
        if not stub:
            problems.append(f'Exercise {ex}: stub cell lacks tags=["exercise"]')
    if ids:
        for kind, name in (("checks", "check_"), ("solutions", "exercise_")):
            try:
                module = _exercises.load_module(kind, path.stem)
            except FileNotFoundError as e:
                problems.append(str(e))
                continue
            have = {n.removeprefix(name) for n in vars(module) if n.startswith(name)}
            for ex in sorted(set(ids) - have):
                problems.append(f"lessons/{kind}/{path.stem}.py has no {name}{ex}")
            for ex in sorted(have - set(ids)):
                problems.append(
                    f"lessons/{kind}/{path.stem}.py: {name}{ex} has no exercise"
                )
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path,ex", CASES, ids=[f"{p.stem}-{ex}" for p, ex in CASES])
def test_check_passes_on_the_solution(path, ex):
    _exercises.get_check(ex)(_exercises.get_solution(ex))


@pytest.mark.parametrize("path,ex", CASES, ids=[f"{p.stem}-{ex}" for p, ex in CASES])
def test_check_fails_on_the_untouched_stub(path, ex):
    node = stubs(path).get(ex)
    assert node is not None, f"{path.name}: no stub def exercise_{ex}"
    stub = compile_stub(path, node)
    with pytest.raises(AssertionError):
        _exercises.get_check(ex)(stub)


def test_attempt_reports_without_raising(capsys):
    """attempt() prints the verdict and never raises, whatever the function does."""
    assert CASES, "no `### Exercise` heading found in lessons/: the extractor broke"
    path, ex = CASES[0]
    assert _exercises.attempt(ex, _exercises.get_solution(ex)) is True
    assert _exercises.attempt(ex, compile_stub(path, stubs(path)[ex])) is False

    def broken(*args, **kwargs):
        raise ValueError("boom")

    assert _exercises.attempt(ex, broken) is False
    out = capsys.readouterr().out
    label = f"Exercise {ex.replace('_', '.', 1)}"
    assert f"{label}: correct" in out
    assert f"{label}: not solved yet:" in out and "ValueError: boom" in out
