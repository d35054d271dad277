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
"""

from __future__ import annotations

import re
from pathlib import Path


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
    return {"parallel_read_safe": True, "parallel_write_safe": True}
