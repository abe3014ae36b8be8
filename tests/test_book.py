"""The course book: figures inline in executed notebooks, the notebook cache, exercise
folding, and (marked ``book``) the built site checked in headless Chromium."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
BOOK = ROOT / "book"


def _import(folder: Path, name: str):
    """Module `name` from `folder` (by path: book/build.py is not pypa's `build`)."""
    key = f"_test_book_{folder.name}_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@pytest.fixture(scope="module")
def bn():
    pytest.importorskip("nbclient")
    pytest.importorskip("jupytext")
    return _import(LESSONS, "build_notebooks")


def test_savefig_in_a_script_saves_says_where_and_returns_none(tmp_path, capsys):
    import matplotlib.pyplot as plt

    course = _import(LESSONS, "_course")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    name = "_test_book_savefig.png"
    try:
        assert course.savefig(fig, name) is None
        path = course.out_dir() / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"figure saved to lessons/_build/{name}" in capsys.readouterr().out
    finally:
        plt.close(fig)
        (course.out_dir() / name).unlink(missing_ok=True)


def _lesson(tmp_path: Path, body: str) -> Path:
    """A two-figure lesson in a temporary copy of lessons/ (so `import _course`
    resolves to the real helpers and figures land in the copy's _build/)."""
    shutil.copy(LESSONS / "_course.py", tmp_path / "_course.py")
    path = tmp_path / "99_figures.py"
    path.write_text(body)
    return path


FIGURES = """# %% [markdown]
# # 99 · figures
# %%
import _course
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([0, 1, 2], [2, 0, 1])
ax.set_title("a"); ax.set_xlabel("x"); ax.set_ylabel("y")
_course.savefig(fig, "99_a.png")
plt.close(fig)
# %%
fig, ax = plt.subplots()
ax.bar([0, 1], [1, 2])
_course.savefig(fig, "99_b.png")
"""


def test_a_notebook_shows_each_saved_figure_once_and_no_posixpath(bn, tmp_path):
    """Executed as a notebook, savefig shows each figure inline exactly once (the
    first is closed right after saving, the second left open), saves the file,
    and leaves no PosixPath output."""
    import nbformat

    lesson = _lesson(tmp_path, FIGURES)
    bn.HERE, here = tmp_path, bn.HERE  # the kernel's working directory
    try:
        out = bn.build(lesson, tmp_path / "nb", quick=True, timeout=120)
    finally:
        bn.HERE = here
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 2, [list(o.get("data", {})) for o in outputs]
    text = json.dumps(outputs)
    assert "PosixPath" not in text and "figure saved to" not in text
    assert (tmp_path / "_build" / "99_a.png").exists()
    assert (tmp_path / "_build" / "99_b.png").exists()


def test_a_real_lesson_notebook_has_its_figures_inline(bn):
    """A course lesson with figures, executed through the shared cache (the lesson
    tests usually executed it already): one image/png output per savefig call."""
    import re

    import nbformat

    lesson = next(p for p in bn.lesson_paths() if p.stem.startswith("06_"))
    saves = len(re.findall(r"^[^#\n]*\bsavefig\(", lesson.read_text(), flags=re.M))
    assert saves, f"{lesson.name} no longer saves a figure: pick another lesson"
    nb = nbformat.read(bn.build(lesson, quick=True), as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) >= saves, f"{len(pngs)} inline figures for {saves} savefig calls"
    assert "PosixPath" not in json.dumps(outputs)


def test_the_cache_reuses_a_notebook_until_its_source_changes(bn, tmp_path):
    lesson = _lesson(tmp_path, "# %%\nimport time\nprint(time.time_ns())\n")
    bn.HERE, here = tmp_path, bn.HERE
    try:
        out = bn.build(lesson, tmp_path / "nb", quick=True, timeout=120)
        first = out.read_text()
        assert bn.build(lesson, tmp_path / "nb", quick=True).read_text() == first
        full = bn.build(lesson, tmp_path / "full", quick=False, timeout=120)
        assert json.loads(full.read_text())["metadata"]["minirec"]["quick"] is False
        lesson.write_text(lesson.read_text() + "print('changed')\n")
        again = bn.build(lesson, tmp_path / "nb", quick=True, timeout=120)
    finally:
        bn.HERE = here
    assert again.read_text() != first and "changed" in again.read_text()


def test_a_failing_lesson_raises_and_is_not_cached(bn, tmp_path):
    from nbclient.exceptions import CellExecutionError

    lesson = _lesson(tmp_path, "# %%\nraise ValueError('lesson broke')\n")
    bn.HERE, here = tmp_path, bn.HERE
    try:
        with pytest.raises(CellExecutionError, match="lesson broke"):
            bn.build(lesson, tmp_path / "nb", quick=True, timeout=120)
    finally:
        bn.HERE = here
    assert not (tmp_path / "nb" / "99_figures.ipynb").exists()


def test_lesson_paths_follow_the_course_order(bn):
    stems = [p.stem for p in bn.lesson_paths()]
    assert stems == sorted(stems) and stems, stems
    assert all(bn.STEM.match(s) for s in stems)
    assert bn.STEM.match("03b_losses_and_optimizers") and not bn.STEM.match("_course")


def test_exercise_cells_are_folded_for_the_book():
    nbformat = pytest.importorskip("nbformat")
    build = _import(BOOK, "build")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 99 · title"),
        nbformat.v4.new_markdown_cell(
            "### Exercise 99.1: the dot product\n\nReturn $p_u^\\top q_i$.",
            metadata={"tags": ["exercise"]},
        ),
        nbformat.v4.new_code_cell(
            "def exercise_99_1(p, q):\n    return 0.0", metadata={"tags": ["exercise"]}
        ),
        nbformat.v4.new_code_cell("x = 1"),
    ]
    build.fold_exercises(nb)
    md = nb.cells[1].source
    assert md.startswith("::::{dropdown} Exercise 99.1: the dot product")
    assert "Return $p_u^\\top q_i$." in md and md.rstrip().endswith("::::")
    assert "###" not in md
    assert nb.cells[2].metadata["tags"] == ["exercise", "hide-cell"]
    assert "tags" not in nb.cells[3].metadata and nb.cells[0].source == "# 99 · title"


def test_the_file_check_finds_broken_links_ids_and_network_assets(tmp_path):
    """check_site's file-level pass on a tiny site: a good page passes, and each
    kind of fault on the bad page is reported."""
    check_site = _import(BOOK, "check_site")
    (tmp_path / "img.png").write_bytes(b"png")
    (tmp_path / "index.html").write_text(
        '<p id="top"><a href="page.html#sec">ok</a> <a href="#top">up</a>'
        '<img src="img.png"> <a href="https://example.org/paper">a paper</a></p>'
    )
    (tmp_path / "page.html").write_text(
        '<h2 id="sec">s</h2><a href="gone.html">x</a> <a href="index.html#nope">y</a>'
        '<script src="https://cdn.example.org/mathjax.js"></script>'
        '<link rel="stylesheet" href="missing.css"><img src="no.png">'
    )
    problems = check_site.check_files(tmp_path)
    assert "index.html" not in problems, problems
    found = "\n".join(problems["page.html"])
    for fault in ("gone.html", "#nope", "not offline", "missing.css", "no.png"):
        assert fault in found, f"{fault!r} not reported: {found}"
    assert len(problems["page.html"]) == 5


@pytest.mark.book
def test_the_built_site_passes_the_browser_check():
    """book/check_site.py on book/_build/html: every lesson page in headless
    Chromium (math typeset, images loaded, links resolve, no traceback)."""
    # runs where the site was just built: make book-check sets MINIREC_BOOK_CHECK,
    # and there a missing piece fails instead of skipping (a stale site elsewhere
    # would check an old build)
    if not os.environ.get("MINIREC_BOOK_CHECK"):
        pytest.skip("the browser check runs in `make book-quick` / `make book-check`")
    if not (BOOK / "_build" / "html" / "index.html").exists():
        pytest.fail("no built book: `make book-quick` builds it, then runs this check")
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.fail("no chromium/chromedriver: `make browser` installs them")
    if importlib.util.find_spec("selenium") is None:
        pytest.fail("selenium not installed: pip install -e '.[book]'")
    check_site = _import(BOOK, "check_site")
    assert check_site.main([]) == 0, "check_site found problems (printed above)"
