"""Work around two theme bugs that make every page log a JavaScript error.

Found by the browser test (tests/test_browser.py), both in the packages Jupyter Book 1.x
pins, both harmless to look at but errors in every reader's console:

1. sphinx-thebe 0.3.1 adds its inline configuration script (``const THEBE_JS_URL = ...``)
   twice to each page, so the second copy throws "Identifier 'THEBE_JS_URL' has already
   been declared". We drop exact duplicate scripts from each page's script list.
2. pydata-sphinx-theme starts with ``localStorage.mode || "{{ default_mode }}"``; with no
   ``default_mode`` a first visit logs "Got invalid theme mode: ." We default it to
   ``light`` (the book's figures are drawn for a light background).
"""

from __future__ import annotations


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


def setup(app):
    app.connect("config-inited", _config_inited)
    # after the themes' own handlers (default priority 500), before the page is rendered
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
