"""Sphinx configuration of the course book (built by book/build.py, see book/README.md).

The lesson pages are the executed notebooks that build.py puts in book/lessons/; the
results pages and the API reference stubs are generated too (all git-ignored).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
sys.path.insert(0, str(ROOT))  # autodoc imports minirec from this checkout
# minirec.backends.cuda_ops imports numba.cuda: without a GPU, its simulator
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

project = "minirec: the course"
author = "the minirec authors"
copyright = "the minirec authors, MIT licence"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static: no CDN
    "sphinx_design",
]
exclude_patterns = ["_build", "README.md", "**.ipynb_checkpoints"]
templates_path = ["_templates"]

# notebooks are executed before Sphinx runs (lessons/build_notebooks.py, cached)
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_dmath_double_inline = True  # $$...$$ inside a paragraph, as lesson text has it
myst_heading_anchors = 3
# ref.python: a docstring type such as "shape (n,)" names an attribute of several
# classes; Sphinx links none of them and says so for each
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "ref.python"]

autosummary_generate = True
autosummary_imported_members = False
# each object documented once, in the module that defines it (not where re-exported)
autodoc_default_options = {
    "members": True,
    "undoc-members": True,
    "ignore-module-all": True,
    "show-inheritance": True,
}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# minirec.cli.__main__ runs the CLI when imported (python -m minirec.cli): mocked
autodoc_mock_imports = ["cupy", "pyspark", "minirec.cli.__main__"]
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_ivar = True  # "Attributes" as fields: dataclass fields are members too

html_theme = "sphinx_book_theme"
html_title = "minirec: the course"
html_theme_options = {
    "use_download_button": True,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
}
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_copy_source = True  # the theme's download button offers the page's source


INCLUDE = re.compile(r"<!-- include (\S+?)(?:#(.+?))? -->")


def _section(text: str, title: str) -> str:
    """The body of the Markdown section headed `title` (up to the next heading of
    the same or a higher level)."""
    m = re.search(rf"^(#+) {re.escape(title)}\s*$", text, flags=re.M)
    if not m:
        raise ValueError(f"no section '{title}' to include")
    end = re.search(rf"^#{{1,{len(m.group(1))}}} ", text[m.end() :], flags=re.M)
    return text[m.end() : m.end() + end.start() if end else None]


def _link(target: str, stems: set[str], results: set[str]) -> str | None:
    """Where a repository link points in the book, or None when it is not there."""
    path = target.split("#")[0].rstrip("/")
    name = Path(path).stem
    if path.startswith("benchmarks/results") and name in results:
        return f"results/{name}.md"
    if path.startswith("benchmarks/results"):
        return "measured.md"
    if name in stems:
        return f"lessons/{name}.ipynb"
    if path in ("lessons/README.md", "lessons", "README.md"):
        return "course.md"
    return None


def _include(app, docname, source):
    """Replace ``<!-- include FILE#Section -->`` by that file (or section) read now:
    lesson stems become links to their pages, and links to repository files point
    to their page in the book, or become plain text when the book has none."""
    stems = {p.stem for p in (BOOK / "lessons").glob("*.ipynb")}
    results = {p.stem for p in (BOOK / "results").glob("*.md")}

    def one(m):
        text = (ROOT / m.group(1)).read_text(encoding="utf-8")
        if m.group(2):
            text = _section(text, m.group(2))
        # an HTML comment glued to a table hides the table from the Markdown parser
        text = re.sub(r"^<!--.*?-->[ \t]*$", "", text, flags=re.M)

        def link(m):
            if m.group(0).startswith("!") or re.match(r"https?:|#", m.group(2)):
                return m.group(0)
            to = _link(m.group(2), stems, results)
            return f"[{m.group(1)}]({to})" if to else m.group(1)

        text = re.sub(r"!?\[([^\]]+)\]\(([^)\s]+)\)", link, text)
        # a table cell naming a results file (the README's "file" column)
        text = re.sub(
            r"(?<=\| )(\w+)\.md(?= \|)",
            lambda m: (
                f"[{m.group(0)}](results/{m.group(1)}.md)"
                if m.group(1) in results
                else m.group(0)
            ),
            text,
        )
        return re.sub(
            r"(?<!\[)`(\d\d[a-z]?_[a-z0-9_]+)`",
            lambda m: (
                f"[`{m.group(1)}`](lessons/{m.group(1)}.ipynb)"
                if m.group(1) in stems
                else m.group(0)
            ),
            text,
        )

    source[0] = INCLUDE.sub(one, source[0])


def _plain_docstring(app, what, name, obj, options, lines):
    """minirec's docstrings are plain text (NumPy style, math in ``::`` blocks):
    outside literal blocks a ``|`` is a bar (|R|, |x|), a trailing ``_`` part of a
    name, and an inline literal may be followed by a letter, not reST markup."""
    literal_indent = None
    for n, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None and line.strip() and indent <= literal_indent:
            literal_indent = None
        if literal_indent is None:
            line = line.replace("|", "\\|")
            line = re.sub(r"(\w)_(?!\w)", r"\1\\_", line)  # torch's clip_grad_norm_
            line = re.sub(r"(``[^`]+``)(?=[^\s.,;:!?)\]'\"/-])", r"\1\\ ", line)
            lines[n] = line
            if line.rstrip().endswith("::"):
                literal_indent = indent


def setup(app):
    app.connect("source-read", _include)
    app.connect("autodoc-process-docstring", _plain_docstring)
