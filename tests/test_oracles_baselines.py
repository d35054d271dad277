"""Exercise 1's nearest-centroid oracle gives sklearn's ``NearestCentroid`` predictions."""

import numpy as np
import pytest
from sklearn.neighbors import NearestCentroid as SklearnNearestCentroid

from autograder.oracles.baselines import NearestCentroid, tfidf_nearest_centroid
from rnncourse.data import languages


def test_same_predictions_as_sklearn_on_the_exercise_data():
    words, labels = languages.word_language_data((0, 1500))
    train, test = words[::2], words[1::2]
    vec, ours = tfidf_nearest_centroid(train, labels[::2])
    X = vec.transform(train)
    theirs = SklearnNearestCentroid().fit(X, labels[::2])
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_allclose(ours.centroids_, theirs.centroids_, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(vec.transform(test)), theirs.predict(vec.transform(test)))


@pytest.mark.parametrize("seed", range(3))
def test_same_predictions_as_sklearn_on_dense_random_data_with_string_labels(seed):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((60, 5)), rng.choice(["de", "en", "pl"], size=60)
    Z = rng.standard_normal((200, 5))
    np.testing.assert_array_equal(NearestCentroid().fit(X, y).predict(Z),
                                  SklearnNearestCentroid().fit(X, y).predict(Z))


def test_a_wrong_rule_would_be_caught():
    """The nearest centroid is not the nearest training point: the comparison can tell them apart."""
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    Z = rng.standard_normal((300, 3))
    nearest_point = y[((Z[:, None] - X[None]) ** 2).sum(-1).argmin(1)]
    assert (NearestCentroid().fit(X, y).predict(Z) != nearest_point).any()
