"""Ship the book's Chinese font: ``book/_static`` (the subset font of ``scripts/cjk_font.py``, its
license and ``cjk-font.css``) goes into the build's ``_static``, and every page loads the CSS.

The CSS declares the font for CJK code points only, so a reader's machine without CJK fonts
still draws the glossary's Chinese names (checked in Chromium by tests/test_browser.py).
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "_static"
CSS = "cjk-font.css"


def _config_inited(app, config) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app):
    app.connect("config-inited", _config_inited)
    app.add_css_file(CSS)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
