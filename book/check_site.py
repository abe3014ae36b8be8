"""Check the built book in a real browser (headless Chromium through Selenium).

    python book/check_site.py                 # checks book/_build/html
    python book/check_site.py --html DIR --screenshots DIR

Every page of the site, read as files: every local link, image, script and stylesheet
points to a file that exists (and a link's #fragment to an id on that page), and no
script or stylesheet comes from the network (the site works offline); every lesson
and every public module of minirec has its page.
Every lesson page, in Chromium: MathJax rendered every formula (an ``mjx-container``
inside each math element, no TeX error, no raw ``$$`` or ``\\(`` left in the prose),
every ``<img>`` loaded (naturalWidth > 0), at least as many figures in the outputs as
the lesson has ``savefig`` calls, no Python traceback in an output, the .py and .ipynb
downloads present, exercises folded. Then the search page must find a lesson, and
three screenshots go to the screenshots folder. Exits 1 listing every failure.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
HTML = BOOK / "_build" / "html"
SHOTS = BOOK / "_build" / "screenshots"

TRACEBACK = re.compile(
    r"Traceback \(most recent call last\)|^-{20,}\s*\n\s*\w+(Error|Exception)\b",
    flags=re.M,
)


class _Refs(HTMLParser):
    """Collects ids and the local references of one HTML page."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []  # (tag, url)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key) and (key == "id" or tag == "a"):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.refs.append(("a", a["href"]))
        elif tag in ("img", "script") and a.get("src"):
            self.refs.append((tag, a["src"]))
        elif tag == "link" and a.get("href") and "stylesheet" in (a.get("rel") or ""):
            self.refs.append(("link", a["href"]))


def pages(html: Path) -> list[Path]:
    """The site's pages (not the theme's template fragments under _static/)."""
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts)


@functools.cache
def _parse(path: Path) -> _Refs:
    p = _Refs()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    return p


def check_files(html: Path) -> dict[str, list[str]]:
    """Link, image and offline checks of every page, from the files alone."""
    problems: dict[str, list[str]] = {}
    for page in pages(html):
        rel = str(page.relative_to(html))
        for tag, url in _parse(page).refs:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") or url.startswith("//"):
                if tag != "a":  # a script, stylesheet or image from the network
                    problems.setdefault(rel, []).append(f"<{tag}> not offline: {url}")
                continue
            if parts.scheme:  # mailto:, data:, javascript: ...
                continue
            target = (
                (page.parent / unquote(parts.path)).resolve() if parts.path else page
            )
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.setdefault(rel, []).append(f"<{tag}> to a missing file: {url}")
            elif parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in _parse(target).ids:
                    problems.setdefault(rel, []).append(f"<a> to a missing id: {url}")
    return problems


def public_modules() -> list[str]:
    """Dotted names of minirec's public modules (no part starting with _)."""
    out = []
    for f in sorted((ROOT / "minirec").rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if not any(p.startswith("_") for p in parts):
            out.append(".".join(parts))
    return out


def lesson_source(page: Path) -> str:
    src = ROOT / "lessons" / f"{page.stem}.py"
    return src.read_text(encoding="utf-8") if src.exists() else ""


# Runs in the page: waits for MathJax and the images, then measures.
PAGE_JS = r"""
const done = arguments[arguments.length - 1];
const settle = (window.MathJax && MathJax.startup && MathJax.startup.promise)
  ? MathJax.startup.promise : Promise.reject(new Error("MathJax did not load"));
const imgs = [...document.images];
const loaded = Promise.all(imgs.map(i => i.complete ? 0 : new Promise(r => {
  i.addEventListener("load", r); i.addEventListener("error", r);
  i.loading = "eager"; setTimeout(r, 10000); })));
Promise.all([settle, loaded]).then(() => {
  const article = document.querySelector("article") || document.body;
  const maths = [...article.querySelectorAll(".math")];
  const prose = article.cloneNode(true);
  prose.querySelectorAll("pre, code, script, style, mjx-container, .cell_output")
    .forEach(e => e.remove());
  const outputs = [...article.querySelectorAll(".cell_output")];
  done({
    math: maths.length,
    unrendered: maths.filter(e => !e.querySelector("mjx-container")).length,
    mjx: document.querySelectorAll("mjx-container").length,
    tex_errors: [...document.querySelectorAll("mjx-merror")].map(e => e.textContent)
      .slice(0, 3),
    prose: prose.textContent,
    broken_imgs: imgs.filter(i => !(i.complete && i.naturalWidth > 0))
      .map(i => i.getAttribute("src")),
    output_imgs: article.querySelectorAll(".cell_output img").length,
    output_text: outputs.map(o => o.innerText).join("\n"),
    traceback_cells: article.querySelectorAll(
      ".cell_output .traceback, .output.traceback, .output.error").length,
    dropdowns: [...article.querySelectorAll("details.sd-dropdown")].map(d => d.open),
    downloads: [...article.querySelectorAll("a.download, a.reference.download")]
      .map(a => a.getAttribute("href")),
  });
}).catch(e => done({error: String(e)}));
"""


def check_lesson(driver, url: str, page: Path) -> list[str]:
    r = driver.execute_async_script(PAGE_JS)
    if "error" in r:
        return [r["error"]]
    out = []
    src = lesson_source(page)
    if r["math"] == 0:
        out.append("no math on the page (every lesson quotes formulas)")
    if r["unrendered"]:
        out.append(f"{r['unrendered']} of {r['math']} math elements not typeset")
    if r["tex_errors"]:
        out.append(f"TeX errors: {r['tex_errors']}")
    for raw in ("$$", "\\(", "\\["):
        if raw in r["prose"]:
            at = r["prose"].index(raw)
            out.append(f"raw {raw} in the text: ...{r['prose'][at - 40 : at + 40]!r}")
    if r["broken_imgs"]:
        out.append(f"images not loaded: {r['broken_imgs']}")
    figures = len(re.findall(r"^[^#\n]*\bsavefig\(", src, flags=re.M))
    if r["output_imgs"] < figures:
        out.append(f"{r['output_imgs']} figures inline, the lesson saves {figures}")
    if r["traceback_cells"] or TRACEBACK.search(r["output_text"]):
        m = TRACEBACK.search(r["output_text"])
        out.append(f"a traceback in an output: {m.group(0) if m else 'error cell'}")
    if "PosixPath(" in r["output_text"]:
        out.append("a stray PosixPath(...) output")
    for ext in (".py", ".ipynb"):
        if not any(h and h.endswith(page.stem + ext) for h in r["downloads"]):
            out.append(f"no download of {page.stem}{ext}")
    exercises = len(re.findall(r"^# #{2,4} Exercise\b", src, flags=re.M))
    if len(r["dropdowns"]) < exercises:
        out.append(
            f"{len(r['dropdowns'])} exercise dropdowns for {exercises} exercises"
        )
    if any(r["dropdowns"]):
        out.append("an exercise is shown unfolded")
    return out


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        raise RuntimeError(
            "headless Chromium not found: run `make browser` "
            "(apt-get install -y chromium chromium-driver)"
        )
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1400",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_script_timeout(60)
    driver.set_page_load_timeout(60)
    return driver


def serve(html: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """The site on 127.0.0.1 (file:// URLs would block MathJax's web fonts)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def check_search(driver, base: str) -> list[str]:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base}/search.html?q=factorization")
    try:
        WebDriverWait(driver, 30).until(
            lambda d: d.find_elements("css selector", "#search-results li")
        )
    except Exception:
        return ["search for 'factorization' found nothing"]
    hits = [
        a.get_attribute("href")
        for a in driver.find_elements("css selector", "#search-results li a")
    ]
    if not any("/lessons/" in (h or "") for h in hits):
        return [f"search for 'factorization' found no lesson: {hits[:5]}"]
    return []


def screenshots(driver, base: str, html: Path, out: Path) -> list[Path]:
    """Three pages: the course map, a lesson at its first figure, a model's API."""
    out.mkdir(parents=True, exist_ok=True)
    lessons = sorted((html / "lessons").glob("*.html"))
    lesson = next((p for p in lessons if p.stem == "06_mf_sgd"), lessons[0])
    api = html / "_autosummary" / "minirec.models.mf.html"
    pages = [("course_map", html / "course.html"), (f"lesson_{lesson.stem}", lesson)]
    pages.append(
        (
            "api_" + (api.stem if api.exists() else "index"),
            api if api.exists() else html / "api.html",
        )
    )
    saved = []
    for name, page in pages:
        driver.get(f"{base}/{page.relative_to(html).as_posix()}")
        driver.execute_async_script(
            "const d = arguments[0]; (window.MathJax && MathJax.startup"
            " ? MathJax.startup.promise : Promise.resolve()).then(() => d());"
        )
        if name.startswith("lesson_"):
            driver.execute_script(
                "const i = document.querySelector('.cell_output img');"
                "if (i) i.scrollIntoView({block: 'center'});"
            )
        path = out / f"{name}.png"
        driver.save_screenshot(str(path))
        saved.append(path)
    return saved


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", type=Path, default=HTML)
    ap.add_argument("--screenshots", type=Path, default=SHOTS)
    args = ap.parse_args(argv)
    html = args.html.resolve()
    lessons = sorted((html / "lessons").glob("*.html"))
    if not (html / "index.html").exists() or not lessons:
        print(
            f"check_site: no built book with lessons in {html}: run `make book-quick`"
        )
        return 1
    problems = check_files(html)
    api = sorted(
        set(public_modules()) - {p.stem for p in (html / "_autosummary").glob("*.html")}
    )
    if api:
        problems["_autosummary/"] = [f"no API page for the modules {api}"]
    stems = {p.stem for p in (ROOT / "lessons").glob("*.py")}
    course = sorted(s for s in stems if re.match(r"^\d\d[a-z]?_\w+$", s))
    missing = sorted(set(course) - {p.stem for p in lessons})
    if missing:
        problems["lessons/"] = [f"no page for the lessons {missing}"]
    n_pages = len(pages(html))
    server, base = serve(html)
    driver = chromium()
    try:
        for page in lessons:
            rel = page.relative_to(html).as_posix()
            driver.get(f"{base}/{rel}")
            found = check_lesson(driver, f"{base}/{rel}", page)
            if found:
                problems.setdefault(rel, []).extend(found)
        found = check_search(driver, base)
        if found:
            problems.setdefault("search.html", []).extend(found)
        shots = screenshots(driver, base, html, args.screenshots)
    finally:
        driver.quit()
        server.shutdown()
    for page, found in sorted(problems.items()):
        for p in found:
            print(f"{page}: {p}")
    bad_lessons = sum(1 for p in lessons if p.relative_to(html).as_posix() in problems)
    print(
        f"check_site: {n_pages} pages checked for links and offline assets, "
        f"{len(lessons)} lesson pages in Chromium; screenshots: "
        + ", ".join(
            str(s.relative_to(ROOT) if s.is_relative_to(ROOT) else s) for s in shots
        )
    )
    print(
        f"check_site: {len(lessons) - bad_lessons} passed, {bad_lessons} failed"
        f" (lesson pages); {len(problems)} pages with problems in all"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
