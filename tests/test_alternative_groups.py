"""``tests.harness.alternative_groups``: the correct alternatives graded together, at most one per
answer cell, none with its own checkpoint files in company, each exactly once."""

from rnngrade.course import assignments
from tests.harness import alternative_groups, load_alternatives


def test_every_alternative_is_graded_once_and_alone_in_its_cell():
    for assignment in assignments():
        alternatives = load_alternatives(assignment)
        groups = alternative_groups(assignment)
        placed = [name for names in groups.values() for name in names]
        assert sorted(placed) == sorted(alternatives), assignment
        for student, names in groups.items():
            cells = [alternatives[n]["cell"] for n in names]
            assert len(set(cells)) == len(cells), f"{assignment} {student}: two alternatives in one cell: {names}"
            if any(alternatives[n].get("files") for n in names):
                assert len(names) == 1, f"{assignment} {student}: an alternative with files shares a submission"


def test_exercise_1_grades_its_nine_alternatives_in_two_submissions():
    assert len(load_alternatives("ex01_rnn_basics")) == 9
    assert len(alternative_groups("ex01_rnn_basics")) == 2
