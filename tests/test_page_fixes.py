"""The Colab button of a published copy opens the chapter's released exercise (book/_ext/page_fixes.py)."""

import sys
from types import SimpleNamespace

from rnngrade.course import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import page_fixes  # noqa: E402


def _page(theme: dict, pagename: str) -> list[dict]:
    app = SimpleNamespace(config=SimpleNamespace(html_theme_options=theme), srcdir=str(ROOT))
    context = {"header_buttons": [{"label": "launch-buttons", "buttons": [
        {"text": "Colab", "url": "https://colab.research.google.com/github/x/y/blob/main/book/ch.md"}]}]}
    page_fixes._colab_opens_the_exercise(app, pagename, "page.html", context, None)
    return context["header_buttons"]


def test_a_configured_repository_gives_each_chapter_a_colab_link_to_its_exercise():
    theme = {"launch_buttons": {"colab_url": "https://colab.research.google.com/"},
             "repository_url": "https://github.com/my-school/rnn-course-2027", "repository_branch": "spring"}
    [group] = _page(theme, "book/ch04_gru")
    [button] = group["buttons"]
    assert button["url"] == ("https://colab.research.google.com/github/my-school/rnn-course-2027/blob/spring/"
                             "exercises/ex04_gru/ex04_gru.ipynb")
    assert (ROOT / "exercises" / "ex04_gru" / "ex04_gru.ipynb").is_file()
    assert _page(theme, "book/intro") == []  # a page without an exercise has no Colab button

