"""wabbit.sklearn: scikit-learn's estimator checks, VW's numbers through the estimators, and the
estimators inside scikit-learn's tools (Pipeline, GridSearchCV, cross_val_score, clone, pickle)."""

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")
import scipy.sparse as sp  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_iris  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from wabbit.sklearn import WabbitClassifier, WabbitRegressor, expected_failed_checks  # noqa: E402


@parametrize_with_checks(
    [WabbitClassifier(), WabbitRegressor(), WabbitClassifier(loss_function="hinge")],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _rows(n=200, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random(size=X.shape) < 0.3] = 0.0  # some zeros: left out, as VW leaves out value-0 features
    return X.astype(np.float32)


def _lines(X, labels):
    return [
        f"{y} | " + " ".join(f"{j}:{float(v)!r}" for j, v in enumerate(row.tolist()) if v != 0)
        for y, row in zip(labels, X)
    ]


def _vw_final(flags, X, labels, queries):
    """VW (pyvw) learns the lines, then predicts the query lines (no label)."""
    import vowpalwabbit

    vw = vowpalwabbit.Workspace("--quiet " + flags)
    for line in _lines(X, labels):
        vw.learn(line)
    out = [vw.predict(line) for line in _lines(queries, [""] * len(queries))]
    vw.finish()
    return out


@pytest.mark.parametrize("params,flags", [({}, ""), ({"quadratic": True, "l2": 1e-5}, "-q :: --l2 1e-5")])
def test_binary_classifier_scores_are_vws(params, flags):
    pytest.importorskip("vowpalwabbit")
    X, Q = _rows(), _rows(20, seed=1)
    y = np.where(X[:, 0] - X[:, 1] > 0, "yes", "no")
    clf = WabbitClassifier(**params).fit(X, y)
    # classes_ sorted: "no" is -1, "yes" is 1
    expected = _vw_final(f"--loss_function logistic {flags}", X, np.where(y == "yes", 1, -1), Q)
    np.testing.assert_allclose(clf.decision_function(Q), expected, rtol=1e-6, atol=1e-6)
    p = 1 / (1 + np.exp(-np.asarray(expected)))
    np.testing.assert_allclose(clf.predict_proba(Q)[:, 1], p, rtol=1e-6)
    assert (clf.predict(Q) == np.where(np.asarray(expected) > 0, "yes", "no")).all()


def test_regressor_predictions_are_vws():
    pytest.importorskip("vowpalwabbit")
    X, Q = _rows(), _rows(30, seed=2)
    y = X @ np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32) + 1
    reg = WabbitRegressor(learning_rate=0.3, power_t=0.4).fit(X, y)
    expected = _vw_final("--learning_rate 0.3 --power_t 0.4", X, [repr(float(v)) for v in y], Q)
    np.testing.assert_allclose(reg.predict(Q), expected, rtol=1e-5, atol=1e-6)


def test_multiclass_probabilities_are_vws():
    pytest.importorskip("vowpalwabbit")
    X, Q = _rows(300), _rows(25, seed=3)
    y = np.argmax(X[:, :3], axis=1) * 10  # classes 0, 10, 20: VW's 1, 2, 3
    clf = WabbitClassifier().fit(X, y)
    assert clf.model_args() == "--loss_function logistic --oaa 3 --probabilities"
    expected = np.asarray(_vw_final("--oaa 3 --probabilities --loss_function logistic", X, y // 10 + 1, Q))
    proba = clf.predict_proba(Q)
    np.testing.assert_allclose(proba, expected, rtol=1e-5, atol=1e-7)
    assert (clf.predict(Q) == clf.classes_[np.argmax(expected, axis=1)]).all()
    assert (np.argmax(clf.decision_function(Q), axis=1) == np.argmax(expected, axis=1)).all()


def test_multiclass_hinge_predicts_vws_classes():
    pytest.importorskip("vowpalwabbit")
    X, Q = _rows(300), _rows(25, seed=4)
    y = np.argmax(X[:, :3], axis=1)
    clf = WabbitClassifier(loss_function="hinge").fit(X, y)
    expected = np.asarray(_vw_final("--oaa 3 --loss_function hinge", X, y + 1, Q))
    assert (clf.predict(Q) == expected - 1).all()
    assert (np.argmax(clf.decision_function(Q), axis=1) == clf.predict(Q)).all()
    assert not hasattr(clf, "predict_proba")  # probabilities need the logistic loss


def test_sparse_dense_and_frames_give_the_same_model():
    pd = pytest.importorskip("pandas")
    X = _rows()
    y = (X[:, 2] > 0).astype(int)
    dense = WabbitClassifier().fit(X, y)
    sparse = WabbitClassifier().fit(sp.csr_matrix(X), y)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    framed = WabbitClassifier().fit(frame, y)
    assert framed.feature_names_in_.tolist() == ["a", "b", "c", "d"] and framed.n_features_in_ == 4
    for other, Q in ((sparse, sp.csc_matrix(X)), (framed, frame)):
        np.testing.assert_array_equal(dense.decision_function(X), other.decision_function(Q))


def test_a_frame_with_text_columns_is_refused():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [1.0, 2.0], "flag": [True, False], "city": ["a", "b"]})
    with pytest.raises(TypeError, match="city"):
        WabbitRegressor().fit(frame, [1.0, 2.0])
    WabbitRegressor().fit(frame[["x", "flag"]], [1.0, 2.0])  # numeric and boolean columns are fine


def test_partial_fit_in_two_halves_is_one_fit():
    X = _rows(100)
    y = np.where(X[:, 0] > 0, 1, 0)
    whole = WabbitClassifier().fit(X, y)
    halves = WabbitClassifier().partial_fit(X[:50], y[:50], classes=[0, 1]).partial_fit(X[50:], y[50:])
    np.testing.assert_array_equal(whole.decision_function(X), halves.decision_function(X))
    with pytest.raises(ValueError, match="classes="):
        WabbitClassifier().partial_fit(X, y)
    r = WabbitRegressor().partial_fit(X[:50], X[:50, 0]).partial_fit(X[50:], X[50:, 0])
    np.testing.assert_array_equal(r.predict(X), WabbitRegressor().fit(X, X[:, 0]).predict(X))


def test_passes_learn_the_rows_again():
    X = _rows(60)
    y = X[:, 0] * 3
    one, five = WabbitRegressor().fit(X, y), WabbitRegressor(passes=5).fit(X, y)
    twice = WabbitRegressor().fit(X, y).partial_fit(X, y)
    np.testing.assert_array_equal(WabbitRegressor(passes=2).fit(X, y).predict(X), twice.predict(X))
    assert five.score(X, y) > one.score(X, y)


def test_parameters_are_flags_and_set_params_changes_them():
    clf = WabbitClassifier(learning_rate=0.1, l1=1e-6, bits=20, args="--ftrl")
    assert clf.model_args() == "--bit_precision 20 --loss_function logistic --learning_rate 0.1 --l1 1e-06 --ftrl"
    clf.set_params(learning_rate=0.2, quadratic="::", bits=None)
    assert "--learning_rate 0.2" in clf.model_args() and "--quadratic ::" in clf.model_args()
    assert clf.get_params()["args"] == "--ftrl"
    with pytest.raises(ValueError, match="--oaa"):
        WabbitClassifier(args="--oaa 3").fit(_rows(10), [0, 1] * 5)
    with pytest.raises(ValueError, match="passes"):
        WabbitRegressor(passes=0).fit(_rows(10), np.zeros(10))


def test_clone_and_pickle_keep_the_model():
    X, y = load_iris(return_X_y=True)
    clf = WabbitClassifier(passes=3, learning_rate=0.7).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "model_")


def test_pipeline_grid_search_and_cross_validation():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), WabbitClassifier(passes=3))
    grid = GridSearchCV(
        pipe, {"wabbitclassifier__learning_rate": [0.05, 0.5], "wabbitclassifier__quadratic": [None, "::"]}, cv=3
    )
    grid.fit(X, y)
    assert set(grid.best_params_) == {"wabbitclassifier__learning_rate", "wabbitclassifier__quadratic"}
    assert len(grid.cv_results_["mean_test_score"]) == 4 and grid.best_score_ > 0.9
    scores = cross_val_score(make_pipeline(StandardScaler(), WabbitRegressor()), X, y.astype(float), cv=3)
    assert scores.shape == (3,) and np.isfinite(scores).all()


def test_the_callers_sparse_matrix_is_left_as_it_was():
    # unsorted column indices: scipy's canonical form is made on a copy, not in the caller's matrix
    X = sp.csr_matrix((np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1]), np.array([0, 2, 3])), shape=(2, 2))
    before = X.indices.copy()
    fitted = WabbitRegressor().fit(X, [1.0, 2.0])
    np.testing.assert_array_equal(X.indices, before)
    np.testing.assert_array_equal(fitted.predict(X), fitted.predict(X.toarray()))
