"""``xdist_group`` that works with pytest 9.

pytest-xdist's ``--dist loadgroup`` sends the tests of one ``xdist_group`` to one worker by
appending ``@group`` to each test's node id. pytest 9 keeps node ids in ``Item._id`` (a
``NodeId``), and xdist 3.8 still writes ``Item._nodeid``, which pytest no longer reads: the
groups silently fell apart, and every worker built the book and graded the red-team class
itself (measured in CI: the class graded twice, 566 s + 534 s). This plugin adds the suffix
the way pytest 9 stores it, and stops the run when a grouped test still has no suffix, so a
future pytest or xdist that breaks it again fails loudly instead of doubling the suite's time.
"""

from __future__ import annotations

import pytest


def _group(item) -> str | None:
    names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                    for m in item.iter_markers("xdist_group")})
    return "_".join(names) or None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    if not getattr(config.option, "loadgroup", False):  # set on xdist workers under loadgroup
        return
    for item in items:
        group = _group(item)
        if group is None or item.nodeid.endswith(f"@{group}"):
            continue
        if hasattr(item, "_id"):  # pytest >= 9
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(f"{item.nodeid}@{group}")
        else:
            item._nodeid = f"{item.nodeid}@{group}"
        if not item.nodeid.endswith(f"@{group}"):
            raise pytest.UsageError(f"cannot put {item.nodeid} in xdist group {group!r}: "
                                    "pytest or pytest-xdist changed how node ids are stored")
