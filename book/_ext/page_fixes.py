"""Fix what the theme gets wrong for this book's readers.

Found by the browser test (tests/test_browser.py), both in the packages Jupyter Book 1.x
pins, both harmless to look at but errors in every reader's console:

1. sphinx-thebe 0.3.1 adds its inline configuration script (``const THEBE_JS_URL = ...``)
   twice to each page, so the second copy throws "Identifier 'THEBE_JS_URL' has already
   been declared". We drop exact duplicate scripts from each page's script list.
2. pydata-sphinx-theme starts with ``localStorage.mode || "{{ default_mode }}"``; with no
   ``default_mode`` a first visit logs "Got invalid theme mode: ." We default it to
   ``light`` (the book's figures are drawn for a light background).

And one link: the theme's Colab launch button opens the page's own source in Colab, but
our chapters are MyST markdown, which Colab cannot open. Students go to Colab for a GPU to
train an exercise's model, so on a chapter page the button opens the chapter's released
exercise notebook (``exercises/exNN_*/exNN_*.ipynb`` in the repository of ``_config.yml``);
on a page without an exercise it is dropped.

And the exercise link itself: a browser shows a linked ``.ipynb`` as raw JSON when the book
is read from files (the student bundle: Chromium ignores ``download`` on ``file://``). Each
``{download}`` link to an exercise notebook therefore links a zip instead, written beside the
notebook in ``_downloads/``: the notebook and a short note on opening it in Jupyter or Colab.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

EXERCISE_LINK = re.compile(
    r'(<a class="reference download internal"[^>]*href=")([^"]*_downloads/[0-9a-f]+/ex\d\d_[a-z0-9_]+)'
    r'\.ipynb(">.*?</a>)', re.S)
OPENING = """{name}.ipynb is exercise {number} of the course on recurrent neural networks.

Jupyter: put {name}.ipynb in a folder and run `jupyter notebook {name}.ipynb` there, from the
environment where the course is installed (the student bundle's README.md says how).
Colab: File > Upload notebook, then pick {name}.ipynb (Runtime > Change runtime type > GPU to
train on a GPU).
Hand in the notebook with the .safetensors and .json files its training cell saves beside it.
"""


def _exercise_links_are_zips(app, pagename, templatename, context, doctree) -> None:
    body = context.get("body")
    if not isinstance(body, str) or "_downloads/" not in body:
        return

    def to_zip(m: re.Match) -> str:
        return (f'{m.group(1)}{m.group(2)}.zip{m.group(3)} <span class="exercise-zip">(a zip with the '
                "notebook: unzip it, then open it in Jupyter or upload it to Colab)</span>")

    context["body"] = EXERCISE_LINK.sub(to_zip, body)


def write_exercise_zip(notebook: Path) -> Path:
    """``<name>.zip`` beside ``notebook``: the notebook and how to open it (same bytes every build)."""
    name = notebook.stem
    dest = notebook.with_suffix(".zip")
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, data in ((f"{name}/{name}.ipynb", notebook.read_bytes()),
                              (f"{name}/HOW-TO-OPEN.txt", OPENING.format(
                                  name=name, number=int(name[2:4])).encode())):
            info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return dest


def _write_exercise_zips(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for notebook in sorted((Path(app.outdir) / "_downloads").glob("*/ex[0-9][0-9]_*.ipynb")):
        write_exercise_zip(notebook)


def _config_inited(app, config) -> None:
    config.html_context = {"default_mode": "light", **(config.html_context or {})}


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        key = (str(getattr(js, "filename", js) or ""), tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key in seen:  # the same file, or the same inline body (filename None or "")
            continue
        seen.add(key)
        unique.append(js)
    context["script_files"] = unique


def _exercise_notebook(srcdir: Path, pagename: str) -> str | None:
    m = re.match(r"ch(\d+)_", Path(pagename).name)
    if not m:
        return None
    found = sorted((srcdir / "exercises").glob(f"ex{m.group(1)}_*/ex{m.group(1)}_*.ipynb"))
    return found[0].relative_to(srcdir).as_posix() if found else None


def _colab_opens_the_exercise(app, pagename, templatename, context, doctree) -> None:
    groups = [b for b in context.get("header_buttons", []) if b.get("label") == "launch-buttons"]
    theme = app.config.html_theme_options
    colab = (theme.get("launch_buttons") or {}).get("colab_url", "").rstrip("/")
    repo = theme.get("repository_url", "").rstrip("/")
    if not groups or not colab or "github.com/" not in repo:
        return
    org_repo = "/".join(repo.split("github.com/")[-1].split("/")[:2])
    branch = theme.get("repository_branch") or "main"
    notebook = _exercise_notebook(Path(app.srcdir), pagename)
    for group in groups:
        kept = []
        for button in group.get("buttons", []):
            if button.get("text") != "Colab":
                kept.append(button)
            elif notebook:
                kept.append({**button, "url": f"{colab}/github/{org_repo}/blob/{branch}/{notebook}",
                             "tooltip": "Open this chapter's exercise in Colab (GPU)"})
        group["buttons"] = kept
    context["header_buttons"] = [b for b in context["header_buttons"]
                                 if b.get("label") != "launch-buttons" or b.get("buttons")]


def setup(app):
    app.connect("config-inited", _config_inited)
    # after the themes' own handlers (default priority 500), before the page is rendered
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("html-page-context", _colab_opens_the_exercise, priority=900)
    app.connect("html-page-context", _exercise_links_are_zips, priority=900)
    app.connect("build-finished", _write_exercise_zips)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
