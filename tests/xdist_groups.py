"""``xdist_group`` that works with pytest 9.

pytest-xdist's ``--dist loadgroup`` sends the tests of one ``xdist_group`` to one worker by
appending ``@group`` to each test's node id. pytest 9 keeps node ids in ``Item._id`` (a
``NodeId``), and xdist 3.8 still writes ``Item._nodeid``, which pytest no longer reads: the
groups silently fell apart, and every worker built the book and graded the red-team class
itself (measured in CI: the class graded twice, 566 s + 534 s). This plugin adds the suffix
the way pytest 9 stores it, and stops the run when a grouped test still has no suffix, so a
future pytest or xdist that breaks it again fails loudly instead of doubling the suite's time.

It also hands out the longest groups first (``FIRST``). xdist's own order is by number of tests, so
the red-team class (7 tests, six minutes under load) started after the book group and was the last
thing running, with the machine half idle for its last two minutes (docs/benchmarks/tests.md).
"""

from __future__ import annotations

import pytest

# The groups that take longest on two cores, longest first: each starts before any shorter group,
# so that the short ones fill the end of the run. The rest keep xdist's order.
FIRST = ("redteam", "book", "batch-exercises", "faults")


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


def heavy_first(scheduler_class):
    """``scheduler_class`` (xdist's ``LoadGroupScheduling``), handing out the groups in ``FIRST``
    before all others."""

    class HeavyFirst(scheduler_class):
        def _assign_work_unit(self, node) -> None:
            for scope in reversed(FIRST):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return HeavyFirst


@pytest.hookimpl(optionalhook=True)  # an xdist hook: no error when xdist is not loaded
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    return heavy_first(LoadGroupScheduling)(config, log)
