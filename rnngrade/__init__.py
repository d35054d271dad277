"""The instructor's side of the course: release, grading and reports.

``rnngrade.course`` is the course contract (folders, id, points, limits, nbgrader's settings,
generating an assignment); ``rnngrade.release`` makes ``exercises/`` from ``solutions/``;
``rnngrade.batch`` is ``rnn-grade``, which runs ``rnngrade.worker`` per submission (the
feedback run in ``rnngrade.sandbox``, the scoring run ``rnngrade.cleanroom``). Students never
install this package: their notebooks import ``autograder`` (the test-cell helper, checks and
oracles) and ``rnncourse`` (the teaching package) only.
"""
