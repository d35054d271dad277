"""Serve MathJax 3 from the book itself, so that math renders with no network.

MathJax comes from the ``django-static-mathjax`` package (plain MathJax 3.2.2 files; it
needs no Django). At ``config-inited`` the CHTML renderer, its TeX input extensions and
its fonts are copied into ``_build/.offline-math/mathjax`` (the speech-rule and SVG parts,
not used by the book, are left out), that folder is added to ``html_static_path``, and
``mathjax_path`` points Sphinx at the local copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

SKIP_PARTS = ("sre", "svg", "-full", "node-main", "mml-")


def _mathjax_es5() -> Path:
    import mathjax  # the django-static-mathjax package

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _stage(outdir: Path) -> Path:
    src = _mathjax_es5()
    staging = outdir.parent / ".offline-math"
    dest = staging / "mathjax"
    if not (dest / "tex-chtml.js").exists():
        for f in src.rglob("*"):
            rel = f.relative_to(src)
            if f.is_dir() or any(p in str(rel) for p in SKIP_PARTS):
                continue
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest / rel)
    return staging


def _config_inited(app, config) -> None:
    staging = _stage(Path(app.outdir))
    config.html_static_path = [*config.html_static_path, str(staging)]
    config.mathjax_path = "mathjax/tex-chtml.js"


def setup(app):
    app.connect("config-inited", _config_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
