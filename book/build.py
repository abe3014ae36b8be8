"""Build the course book: execute the lessons (cached), lay out the pages, run Sphinx.

    python book/build.py            # quick mode (what CI runs): lessons at FULL=0
    python book/build.py --full     # lessons at full size (FULL=1)

Writes book/_build/html/index.html. The executed notebooks come from
``lessons/build_notebooks.build`` (reused when the lesson and its dependencies did not
change); their book copies go to book/lessons/ with exercise cells folded and a
download line for the lesson's .py and .ipynb; book/results/ gets one page per file
of benchmarks/results/ that includes that file. Both folders are generated.
A lesson that fails to execute is listed with its error and left out of the site,
and the build exits 1 (the browser check then reports its missing page).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
HTML = BOOK / "_build" / "html"
sys.path.insert(0, str(ROOT / "lessons"))

import build_notebooks  # noqa: E402

EXERCISE = re.compile(r"^#{2,4}\s*(Exercise\b[^\n]*)\n?", flags=re.M)


def execute_lessons(
    quick: bool, only: list[str] | None = None, stale_ok: bool = False
) -> tuple[list[Path], list[str]]:
    """Every lesson (or those named in `only`) as an executed notebook in
    lessons/_build/; returns (notebooks, failures). With `stale_ok`, an executed
    notebook already there is taken even if its sources changed since."""
    notebooks, failed = [], []
    paths = build_notebooks.lesson_paths()
    if only:
        unknown = set(only) - {p.stem for p in paths}
        if unknown:
            return [], [f"--only: no lesson named {sorted(unknown)}"]
        paths = [p for p in paths if p.stem in only]
    for path in paths:
        t0 = time.perf_counter()
        out = build_notebooks.BUILD / f"{path.stem}.ipynb"
        cached = build_notebooks.is_current(
            out, build_notebooks.source_hash(path, quick)
        )
        if stale_ok and not cached and out.exists():
            print(f"  {path.name:<36} stale, reused (--stale-ok)", flush=True)
            notebooks.append(out)
            continue
        try:
            notebooks.append(build_notebooks.build(path, quick=quick))
        except Exception as e:  # report every failing lesson; main exits 1
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))  # nbclient's ANSI colours
            failed.append(f"{path.name}: {type(e).__name__}: {text[-2000:]}")
            print(f"  {path.name:<36} FAILED", flush=True)
            continue
        how = "cached" if cached else f"executed in {time.perf_counter() - t0:.1f} s"
        print(f"  {path.name:<36} {how}", flush=True)
    return notebooks, failed


def fold_exercises(nb) -> None:
    """Exercise cells (tag ``exercise``) shown folded: the markdown becomes a
    dropdown titled by its heading, the code cell is hidden behind a toggle."""
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "exercise" not in tags:
            continue
        if cell.cell_type == "markdown":
            m = EXERCISE.search(cell.source)
            title = m.group(1).strip() if m else "Exercise"
            body = EXERCISE.sub("", cell.source, count=1).strip() if m else cell.source
            cell.source = f"::::{{dropdown}} {title}\n\n{body}\n::::"
        elif "hide-cell" not in tags:
            cell.metadata["tags"] = [*tags, "hide-cell"]


def book_page(notebook: Path, lesson: Path, out_dir: Path) -> Path:
    """The book's copy of an executed lesson notebook, with its download line."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    fold_exercises(nb)
    script = Path("..", "..", "lessons", lesson.name)  # from book/lessons/
    executed = Path("..", "..", notebook.relative_to(ROOT))
    line = (
        f"Download this lesson: {{download}}`{lesson.name} <{script}>` (the script)"
        f" · {{download}}`{notebook.name} <{executed}>` (the executed notebook)"
    )
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    nb.cells.insert(first + 1, nbformat.v4.new_markdown_cell(line))
    out = out_dir / notebook.name
    nbformat.write(nb, out)
    return out


def results_pages(out_dir: Path) -> list[Path]:
    """One page per benchmarks/results/*.md, including the file as it is."""
    pages = []
    for src in sorted((ROOT / "benchmarks" / "results").glob("*.md")):
        page = out_dir / src.name
        page.write_text(
            f"```{{include}} ../../benchmarks/results/{src.name}\n"
            ":relative-images:\n```\n",
            encoding="utf-8",
        )
        pages.append(page)
    return pages


def lay_out(notebooks: list[Path]) -> None:
    for name in ("lessons", "results", "_autosummary"):
        shutil.rmtree(BOOK / name, ignore_errors=True)
        (BOOK / name).mkdir()
    for nb in notebooks:
        book_page(nb, build_notebooks.HERE / f"{nb.stem}.py", BOOK / "lessons")
    results_pages(BOOK / "results")


def sphinx(quiet: bool = True) -> int:
    shutil.rmtree(HTML, ignore_errors=True)  # no page of a removed lesson left over
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-E", str(BOOK), str(HTML)]
    return subprocess.run([*cmd, "-q"] if quiet else cmd, cwd=ROOT).returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="run the lessons at FULL=1")
    ap.add_argument(
        "--only", nargs="+", metavar="STEM", help="just these lessons (a partial book)"
    )
    ap.add_argument(
        "--stale-ok",
        action="store_true",
        help="reuse executed notebooks even when their sources changed (to iterate "
        "on the site's look; never for a published build)",
    )
    ap.add_argument("--verbose", action="store_true", help="Sphinx's full output")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    mode = "full" if args.full else "quick"
    print(f"book: executing the lessons ({mode} mode, cached in lessons/_build/)")
    notebooks, failed = execute_lessons(
        quick=not args.full, only=args.only, stale_ok=args.stale_ok
    )
    if failed and not notebooks:
        print("book: no lesson built, no site:\n" + "\n".join(failed))
        return 1
    lay_out(notebooks)
    print(f"book: {len(notebooks)} lesson pages; running Sphinx")
    rc = sphinx(quiet=not args.verbose)
    if rc:
        print(f"book: sphinx-build failed (exit {rc})")
        return rc
    print(
        f"book: built {HTML.relative_to(ROOT)}/index.html "
        f"in {time.perf_counter() - t0:.0f} s"
    )
    if failed:  # the site is there to look at, without these lessons' pages
        print(f"book: {len(failed)} lessons failed:\n" + "\n".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
