"""Checkable exercises for the lessons (not part of the library).

An exercise is a stub ``exercise_NN_k`` in a lesson; ``attempt("NN_k", fn)`` loads
``check_NN_k`` from ``lessons/checks/<stem>.py`` (the lesson whose stem starts with
``NN_``), runs it on ``fn`` and prints whether the answer is correct. It never raises:
a lesson runs to its end with the stubs untouched. Reference solutions live in
``lessons/solutions/<stem>.py`` and are never shown inline.
"""

from __future__ import annotations

import importlib.util
import traceback
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent


def lesson_stem(exercise_id: str) -> str:
    """The stem of the lesson that owns `exercise_id` ("06_2" -> "06_mf_sgd")."""
    prefix = exercise_id.rsplit("_", 1)[0]
    stems = sorted(p.stem for p in HERE.glob(f"{prefix}_*.py"))
    if len(stems) != 1:
        raise LookupError(
            f"exercise id {exercise_id!r}: expected one lesson lessons/{prefix}_*.py, "
            f"found {stems or 'none'}; ids look like '06_2' or '03b_1'"
        )
    return stems[0]


@cache
def load_module(kind: str, stem: str):
    """lessons/<kind>/<stem>.py as a module (kind is "checks" or "solutions")."""
    path = HERE / kind / f"{stem}.py"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: add the {kind} of lesson {stem}"
        )
    spec = importlib.util.spec_from_file_location(f"_lesson_{kind}_{stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def get_check(exercise_id: str):
    """The function ``check_<exercise_id>`` of its lesson's checks file."""
    stem = lesson_stem(exercise_id)
    module = load_module("checks", stem)
    name = f"check_{exercise_id}"
    if not hasattr(module, name):
        raise LookupError(f"lessons/checks/{stem}.py has no function {name}")
    return getattr(module, name)


def get_solution(exercise_id: str):
    """The reference ``exercise_<exercise_id>`` of its lesson's solutions file."""
    stem = lesson_stem(exercise_id)
    module = load_module("solutions", stem)
    name = f"exercise_{exercise_id}"
    if not hasattr(module, name):
        raise LookupError(f"lessons/solutions/{stem}.py has no function {name}")
    return getattr(module, name)


def attempt(exercise_id: str, fn) -> bool:
    """Check `fn` against exercise `exercise_id`; print the verdict, return True if correct."""
    label = f"Exercise {exercise_id.replace('_', '.', 1)}"
    try:
        check = get_check(exercise_id)
    except (LookupError, FileNotFoundError) as e:
        print(f"{label}: no check found ({e})")
        return False
    try:
        check(fn)
    except AssertionError as e:
        print(f"{label}: not solved yet: {e}")
        return False
    except (
        Exception
    ) as e:  # the learner's code raised: report it, keep the lesson going
        where = traceback.extract_tb(e.__traceback__)[-1]
        print(
            f"{label}: not solved yet: your function raised {type(e).__name__}: {e} "
            f"(line {where.lineno} of {Path(where.filename).name})"
        )
        return False
    print(f"{label}: correct")
    return True
