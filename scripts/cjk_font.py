"""Write the book's Chinese web font: Noto Sans CJK SC cut down to the characters the book uses.

    python -m scripts.cjk_font            # from the repository root, after adding Chinese text
    python -m scripts.cjk_font --check    # exit 1 (and say which) if a character is missing

A reader's machine may have no CJK font at all, and then the glossary's Chinese names are empty
boxes. The book therefore ships its own: the CJK characters of ``book/*.md``, ``book/*.bib`` (a
reference's Chinese title, shown in the bibliography and in each citation's tooltip) and ``EXTRA``
(the few that a page prints from its code's output but no source spells) are cut out of Noto Sans CJK
SC Regular (SIL Open Font License 1.1; Debian's ``fonts-noto-cjk``: ``apt-get install -y
fonts-noto-cjk``) with fontTools' subsetter and written as WOFF (zlib; WOFF2 would need brotli)
to ``book/_static/fonts/``, with the license beside it. ``book/_static/cjk-font.css`` declares it
for CJK code points only (``unicode-range``); ``book/_ext/cjk_font.py`` adds both to the build.
``tests/test_cjk_font.py`` fails when a page uses a character the font lacks.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SOURCE_FAMILY = "Noto Sans CJK SC"  # the member of the collection to cut (Simplified Chinese)
DEBIAN_COPYRIGHT = Path("/usr/share/doc/fonts-noto-cjk/copyright")
FONTS = ROOT / "book" / "_static" / "fonts"
OUT = FONTS / "NotoSansCJKsc-book-subset.woff"
LICENSE = FONTS / "LICENSE-NotoSansCJK.txt"
COMMAND = "python -m scripts.cjk_font"

# CJK radicals, symbols and punctuation, ideographs (extension A, unified, compatibility) and
# full-width forms: the code points the CSS's unicode-range gives to the shipped font.
CJK = re.compile("[\u2e80-\u2fff\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
UNICODE_RANGE = "U+2E80-2FFF, U+3000-303F, U+3400-4DBF, U+4E00-9FFF, U+F900-FAFF, U+FF00-FFEF"
# Printed by a page's code, spelt by no source: 宝, chapter 2's most likely character after 小
# read anywhere in a word (glued into its prose and printed in its table).
EXTRA = "宝"


def book_characters(root: Path = ROOT) -> set[str]:
    """The CJK characters of the book's sources (``book/*.md``, ``book/*.bib``) and ``EXTRA``."""
    chars = set(EXTRA)
    for page in sorted([*(root / "book").glob("*.md"), *(root / "book").glob("*.bib")]):
        chars |= set(CJK.findall(page.read_text(encoding="utf-8")))
    return chars


def font_characters(path: Path = OUT) -> set[str]:
    """The characters the font at ``path`` has a glyph for (its cmap)."""
    from fontTools.ttLib import TTFont

    with TTFont(path) as font:
        return {chr(c) for c in font.getBestCmap()}


def _source_font_number() -> int:
    from fontTools.ttLib import TTCollection

    names = [f["name"].getDebugName(1) for f in TTCollection(SOURCE).fonts]
    return names.index(SOURCE_FAMILY)


def _license_text() -> str:
    """The font's copyright (from its name table) and the OFL 1.1 text (from Debian's copyright file)."""
    from fontTools.ttLib import TTCollection

    font = TTCollection(SOURCE).fonts[_source_font_number()]
    notice = font["name"].getDebugName(0)
    text = DEBIAN_COPYRIGHT.read_text(encoding="utf-8")
    ofl = text.split("License: SIL-1.1\n", 2)[2].split("\nLicense:", 1)[0]
    ofl = "\n".join("" if line.strip() == "." else line[1:] for line in ofl.splitlines())
    return (f"{OUT.name} is a subset of {SOURCE_FAMILY} Regular (Noto Sans CJK, version "
            f"{font['head'].fontRevision:.3f}), cut by scripts/cjk_font.py to the Chinese characters\n"
            f"this book uses. Font Software licensed under the SIL Open Font License, Version 1.1.\n\n"
            f"{notice}\n\n{ofl.strip()}\n")


def write(chars: set[str]) -> None:
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff"  # zlib; WOFF2 needs brotli
    options.font_number = _source_font_number()
    options.layout_features = ["*"]
    options.hinting = False
    options.desubroutinize = True  # smaller once compressed
    font = subset.load_font(str(SOURCE), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in chars))
    subsetter.subset(font)
    FONTS.mkdir(parents=True, exist_ok=True)
    subset.save_font(font, str(OUT), options)
    LICENSE.write_text(_license_text(), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the font covers the book")
    args = parser.parse_args(argv)
    chars = book_characters()
    if args.check:
        missing = sorted(chars - font_characters()) if OUT.exists() else sorted(chars)
        print(f"missing from {OUT.relative_to(ROOT)}: {''.join(missing)}" if missing else "the font covers the book")
        return 1 if missing else 0
    if not SOURCE.exists():
        print(f"no {SOURCE}: as root, `apt-get install -y fonts-noto-cjk`", file=sys.stderr)
        return 1
    write(chars)
    missing = sorted(chars - font_characters())
    print(f"{OUT.relative_to(ROOT)}: {len(chars)} characters, {OUT.stat().st_size:,} bytes"
          + (f"; not in {SOURCE_FAMILY}: {''.join(missing)}" if missing else ""))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
