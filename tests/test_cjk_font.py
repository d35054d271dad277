"""The Chinese web font the book ships covers every CJK character of its pages (fast, no build).

The font is written by ``python -m scripts.cjk_font`` (see that module); adding a Chinese
character to a page without re-running it fails here. tests/test_browser.py checks in Chromium
that the glossary's Chinese is drawn with this font.
"""

import re

import yaml

from scripts import cjk_font


def test_the_shipped_font_covers_every_cjk_character_of_the_book():
    assert cjk_font.OUT.exists(), f"no {cjk_font.OUT}: run `{cjk_font.COMMAND}` (needs fonts-noto-cjk)"
    missing = sorted(cjk_font.book_characters() - cjk_font.font_characters())
    assert not missing, (f"characters of book/*.md or book/*.bib not in {cjk_font.OUT.name}: {''.join(missing)}; "
                         f"run `{cjk_font.COMMAND}` (as root first: apt-get install -y fonts-noto-cjk) "
                         "and commit the font")


def test_the_scan_finds_the_glossarys_chinese():
    chars = cjk_font.book_characters()
    assert set("术语表门控循环单元") <= chars
    assert set("诸葛越") <= chars  # a reference's authors in book/references.bib
    assert not {c for c in chars if c.isascii()}


def test_the_css_declares_the_font_for_cjk_code_points_and_the_license_is_beside_it():
    css = (cjk_font.ROOT / "book" / "_static" / "cjk-font.css").read_text(encoding="utf-8")
    assert f'url("fonts/{cjk_font.OUT.name}")' in css
    assert re.search(r"unicode-range:\s*" + re.escape(cjk_font.UNICODE_RANGE) + ";", css)
    license_text = cjk_font.LICENSE.read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in license_text and cjk_font.OUT.name in license_text
    config = yaml.safe_load((cjk_font.ROOT / "_config.yml").read_text())
    assert "cjk_font" in config["sphinx"]["local_extensions"]


def test_a_new_character_would_be_caught(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "page.md").write_text("A new word: 龘.\n", encoding="utf-8")
    assert "龘" in cjk_font.book_characters(tmp_path) - cjk_font.font_characters()
