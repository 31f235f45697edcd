"""Class labels by name or id: one reading for the image, audio and mesh pipelines."""

import numpy as np
import pytest

from omniar.pipelines.labels import label_id, label_ids

NAMES = ["cube", "Cone", "chair"]


def test_names_ids_and_digits() -> None:
    assert label_id("cube", NAMES, "class") == 0
    assert label_id("cone", NAMES, "class") == 1 and label_id(" CHAIR ", NAMES, "class") == 2
    assert label_id(2, NAMES, "class") == 2 and label_id(np.int64(1), NAMES, "class") == 1
    assert label_id("2", NAMES, "class") == 2
    assert label_ids("chair", NAMES, "class") == [2]
    assert label_ids(["cube", 2, "Cone"], NAMES, "class") == [0, 2, 1]


def test_more_ids_than_names() -> None:
    assert label_id(7, [], "class label", count=10) == 7
    with pytest.raises(ValueError, match=r"unknown class label 10: id out of range; expected an id 0-9"):
        label_id(10, [], "class label", count=10)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("dragon", r"unknown class 'dragon'; expected one of cube, Cone, chair or an id 0-2"),
        (3, r"unknown class 3: id out of range"),
        (-1, r"unknown class -1: id out of range"),
        (True, r"unknown class True; expected"),
        (1.0, r"unknown class 1.0; expected"),
        ("", r"unknown class ''"),
    ],
)
def test_bad_labels_are_named(value, message) -> None:
    with pytest.raises(ValueError, match=message):
        label_id(value, NAMES, "class")


def test_empty_sequence_is_an_error() -> None:
    with pytest.raises(ValueError, match="class: give at least one label"):
        label_ids([], NAMES, "class")
