"""scikit-learn estimators around :class:`wabbit.Model`: :class:`WabbitClassifier` (binary, and
multiclass through VW's ``--oaa K``) and :class:`WabbitRegressor`.

They take what scikit-learn's estimators take: dense numpy arrays, ``scipy.sparse`` matrices and
pandas frames, and they work in ``Pipeline``, ``GridSearchCV``, ``cross_val_score``, ``clone`` and
pickles. Their parameters are wabbit's (VW's) flags, each an explicit keyword (``learning_rate``,
``l1``, ``l2``, ``power_t``, ``quadratic``, ``bits``, ``loss_function``, ``passes``, ...), plus
``args``, a free string of any other flags (``args="--ftrl --ftrl_alpha 0.1"``).

**How a row becomes an example.** Column ``j`` is feature ``j`` of VW's default namespace with the
row's value, exactly as the text line ``| 0:x0 1:x1 ...`` would be read (zeros are left out, as VW
leaves out a feature of value 0). Binary and regression rows go to the core as CSR arrays
(:meth:`wabbit.Model.learn_many` with ``(indices, values, offsets)``): no text, no Python per row.
``--oaa`` has no matrix path in the core yet, so multiclass rows are written as those text lines
and learned in one :meth:`~wabbit.Model.learn_many` call. Interactions cross the default namespace
with itself: ``quadratic=True`` is VW's ``-q ::`` (every pair of columns), ``cubic=True`` its
``--cubic :::``; a string is passed as VW's flag value.

**pandas frames.** Numeric and boolean columns are taken as they are (the column order is the
feature order; ``feature_names_in_`` records the names); a frame with other columns (strings,
categories, dates) is refused with a TypeError: encode them first (e.g. ``OneHotEncoder`` in a
``Pipeline``). Missing values (NaN) are refused, as scikit-learn's linear models refuse them.

**Classes.** Binary: ``classes_[1]`` is VW's label 1, ``classes_[0]`` its -1;
:meth:`~WabbitClassifier.decision_function` is the raw score and
:meth:`~WabbitClassifier.predict_proba` its logistic (``loss_function="logistic"``, the default).
Multiclass (three classes or more): ``classes_[k]`` is VW's class ``k + 1`` of ``--oaa K``; with the
logistic loss the model runs with ``--probabilities`` (:meth:`~WabbitClassifier.predict_proba` is
VW's, the prediction its most probable class, :meth:`~WabbitClassifier.decision_function` the
log-probabilities); with another loss, the prediction is VW's class and ``decision_function`` the
per-class raw scores (as ``-r`` writes them, 6 significant digits).

``passes=N`` learns the training rows N times in order, with no holdout and no learning-rate
decay (VW's ``--passes N --holdout_off``).

>>> import numpy as np
>>> from wabbit.sklearn import WabbitClassifier, WabbitRegressor
>>> X = np.array([[1.0, 0.0], [0.0, 1.0]] * 50)
>>> y = np.array(["spam", "ham"] * 50)
>>> clf = WabbitClassifier(learning_rate=1.0).fit(X, y)
>>> clf.classes_.tolist(), clf.predict([[1.0, 0.0], [0.0, 1.0]]).tolist()
(['ham', 'spam'], ['spam', 'ham'])
>>> bool(clf.predict_proba([[1.0, 0.0]])[0, 1] > 0.9)
True
>>> reg = WabbitRegressor(passes=5).fit(X, np.where(y == "spam", 2.0, -1.0))
>>> np.round(reg.predict([[1.0, 0.0], [0.0, 1.0]]), 1).tolist()
[2.0, -1.0]
>>> WabbitClassifier(quadratic=True, l2=1e-6).model_args()
'--loss_function logistic --l2 1e-06 --quadratic ::'
"""

from __future__ import annotations

import tempfile
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from wabbit.model import Model
from wabbit.options import parse_args

__all__ = ["WabbitClassifier", "WabbitRegressor", "expected_failed_checks"]

Interactions = Union[None, bool, str, List[str]]

# Flags that would change what the estimators read from the model's output (its form, its
# reduction): the estimators set them themselves.
_OWNED = ("oaa", "csoaa", "probabilities", "binary", "link", "cb", "cb_adf", "cb_explore", "cb_explore_adf")


def expected_failed_checks(estimator: Any) -> Dict[str, str]:
    """The scikit-learn estimator checks that these estimators do not pass, with the reason each
    (for ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)``).

    >>> sorted(expected_failed_checks(WabbitRegressor()))
    ['check_sample_weight_equivalence_on_dense_data', 'check_sample_weight_equivalence_on_sparse_data']
    """
    why = (
        "an online learner: a row of importance weight k is one importance-aware update (VW's), not k "
        "updates, and the check's repeated rows come at other places in the order, which changes "
        "every later update"
    )
    return {
        "check_sample_weight_equivalence_on_dense_data": why,
        "check_sample_weight_equivalence_on_sparse_data": why,
    }


def _interaction(value: Interactions, wildcard: str, name: str) -> List[str]:
    if value is None or value is False:
        return []
    if value is True:
        return [wildcard]
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(f"{name} is None, True/False, a VW interaction string or a list of them, not {value!r}")


def _frame_numeric(X: Any) -> Any:
    """A pandas frame's numeric view (refusing other columns); anything else as it is.

    (Where the core's frame path, ``Model.learn_many(frame, label=..., namespaces=...)``, will plug
    in: a frame with string or categorical columns would go to it, hashed as VW text, instead of
    being refused here.)"""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns") or not hasattr(dtypes, "items"):
        return X
    bad = [str(c) for c, t in dtypes.items() if getattr(t, "kind", "O") not in "biuf"]
    if bad:
        raise TypeError(
            f"columns {', '.join(bad)} are not numeric: the estimators take numeric and boolean columns; "
            "encode the others first (e.g. OneHotEncoder in a Pipeline)"
        )
    return X


def _sample_weight(sample_weight: Any, X: Any) -> np.ndarray:
    """Per-row importance weights: finite numbers >= 0, one per row."""
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(X.shape[0], float(w))
    if w.shape != (X.shape[0],):
        raise ValueError(f"sample_weight has shape {w.shape}; expected ({X.shape[0]},), one weight per row")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite numbers >= 0")
    if len(w) and not w.any():
        raise ValueError("every sample_weight is zero: there is nothing to learn")
    return w


def _csr(X: Any) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated rows as CSR arrays (indices uint32, values float32, offsets int64)."""
    import scipy.sparse as sp

    m = X.tocsr() if sp.issparse(X) else sp.csr_matrix(X)
    if not m.has_canonical_format:  # duplicate entries summed, as scipy reads them (on a copy: X is the caller's)
        m = m.copy()
        m.sum_duplicates()
    return (
        np.ascontiguousarray(m.indices, dtype=np.uint32),
        np.ascontiguousarray(m.data, dtype=np.float32),
        np.ascontiguousarray(m.indptr, dtype=np.int64),
    )


def _text(X: Any, labels: Optional[List[str]] = None) -> bytes:
    """Rows as VW text lines ``[label] | j:x ...`` (the multiclass path: the core has no CSR path for --oaa)."""
    idx, val, off = _csr(X)
    cols = idx.tolist()
    vals = [repr(v) for v in val.astype(np.float64).tolist()]  # float32 values, exactly
    out = []
    for r in range(len(off) - 1):
        b, e = int(off[r]), int(off[r + 1])
        feats = " ".join(f"{cols[k]}:{vals[k]}" for k in range(b, e))
        out.append(f"{labels[r] if labels is not None else ''} | {feats}")
    return "\n".join(out).encode()


class _WabbitBase(BaseEstimator):
    """What the two estimators share: their flags, input checks and the model's runs."""

    _default_loss = "squared"

    def __init__(
        self,
        *,
        loss_function: Optional[str] = None,
        learning_rate: Optional[float] = None,
        power_t: Optional[float] = None,
        initial_t: Optional[float] = None,
        l1: Optional[float] = None,
        l2: Optional[float] = None,
        quadratic: Interactions = None,
        cubic: Interactions = None,
        interactions: Interactions = None,
        bits: Optional[int] = None,
        passes: int = 1,
        noconstant: bool = False,
        args: str = "",
    ) -> None:
        self.loss_function = loss_function
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.initial_t = initial_t
        self.l1 = l1
        self.l2 = l2
        self.quadratic = quadratic
        self.cubic = cubic
        self.interactions = interactions
        self.bits = bits
        self.passes = passes
        self.noconstant = noconstant
        self.args = args

    # ------------------------------------------------------------------ flags
    def _keywords(self) -> Dict[str, Any]:
        kw: Dict[str, Any] = {"loss_function": self.loss_function or self._default_loss}
        for name in ("learning_rate", "power_t", "initial_t", "l1", "l2"):
            value = getattr(self, name)
            if value is not None:
                kw[name] = float(value)
        if self.bits is not None:
            kw["bit_precision"] = int(self.bits)
        for name, wildcard in (("quadratic", "::"), ("cubic", ":::"), ("interactions", "::")):
            found = _interaction(getattr(self, name), wildcard, name)
            if found:
                kw[name] = found
        if self.noconstant:
            kw["noconstant"] = True
        return kw

    def _extra_args(self, n_classes: int) -> str:
        return ""

    def model_args(self, n_classes: int = 2) -> str:
        """The flags the model is built with (what its file records), from the parameters."""
        return parse_args(f"{self.args} {self._extra_args(n_classes)}", **self._keywords()).model_args()

    def _new_model(self, n_classes: int = 2) -> Model:
        if isinstance(self.passes, bool) or not isinstance(self.passes, (int, np.integer)) or self.passes < 1:
            raise ValueError(f"passes must be a whole number >= 1, got {self.passes!r}")
        given = parse_args(self.args)
        owned = [f"--{f}" for f in _OWNED if getattr(given, f) not in (None, False, [])]
        if owned:
            raise ValueError(f"args: {', '.join(owned)} set by the estimator itself (it reads the model's output)")
        return Model(f"{self.args} {self._extra_args(n_classes)}", **self._keywords())

    # ------------------------------------------------------------------ inputs
    def _rows(self, X: Any, reset: bool) -> Any:
        return validate_data(
            self, _frame_numeric(X), reset=reset, accept_sparse=["csr", "csc", "coo"], dtype=[np.float32, np.float64]
        )

    def _learn_csr(self, X: Any, labels: np.ndarray, weights: Optional[np.ndarray], passes: int) -> None:
        csr = _csr(X)
        y = np.ascontiguousarray(labels, dtype=np.float32)
        w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float32)
        for _ in range(passes):
            self.model_.learn_many(csr, labels=y, weights=w)

    def _raw(self, X: Any) -> np.ndarray:
        """The model's output for validated rows (CSR path), as float64."""
        return np.asarray(self.model_.predict_many(_csr(X)), dtype=np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class WabbitClassifier(ClassifierMixin, _WabbitBase):
    """A wabbit (VW) linear classifier: logistic loss by default; binary, or ``--oaa K`` for
    three classes or more. See :mod:`wabbit.sklearn` for the parameters, the rows and the classes.

    Attributes after :meth:`fit`: ``classes_``, ``n_features_in_`` (``feature_names_in_`` for a
    frame with string column names), ``model_`` (the :class:`wabbit.Model`).

    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), WabbitClassifier(passes=10)).fit(X, y)
    >>> clf[-1].model_args()
    '--loss_function logistic --oaa 3 --probabilities'
    >>> bool(clf.score(X, y) > 0.85), clf.predict_proba(X[:1]).shape
    (True, (1, 3))
    """

    _default_loss = "logistic"

    def _extra_args(self, n_classes: int) -> str:
        if n_classes <= 2:
            return ""
        return f"--oaa {n_classes}" + (" --probabilities" if self._logistic() else "")

    def model_args(self, n_classes: Optional[int] = None) -> str:
        """The flags the model is built with, for ``n_classes`` (default: the fitted classes, or 2)."""
        if n_classes is None:
            n_classes = len(self.classes_) if hasattr(self, "classes_") else 2
        return super().model_args(n_classes)

    def _logistic(self) -> bool:
        return (self.loss_function or self._default_loss) == "logistic"

    def _multiclass(self) -> bool:
        return len(self.classes_) > 2

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "WabbitClassifier":
        """Learn a new model from the rows ``X`` and their classes ``y`` (``passes`` times)."""
        for name in ("model_", "classes_"):
            self.__dict__.pop(name, None)
        return self._partial(X, y, None, sample_weight, self.passes, reset=True)

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> "WabbitClassifier":
        """Learn the rows once more, online: the first call needs ``classes`` (every class there will be)."""
        first = not hasattr(self, "model_")
        if first and classes is None:
            raise ValueError("the first partial_fit call needs classes= (every class the model will see)")
        return self._partial(X, y, classes if first else None, sample_weight, 1, reset=first)

    def _partial(
        self, X: Any, y: Any, classes: Any, sample_weight: Any, passes: int, reset: bool
    ) -> "WabbitClassifier":
        X, y = validate_data(
            self,
            _frame_numeric(X),
            y,
            reset=reset,
            accept_sparse=["csr", "csc", "coo"],
            dtype=[np.float32, np.float64],
        )
        check_classification_targets(y)
        if reset:
            found = np.unique(y if classes is None else np.asarray(classes))
            if len(found) < 2:
                raise ValueError(f"a classifier needs at least 2 classes in y; got 1 class ({found[0]!r})")
            if classes is not None and not np.isin(y, found).all():
                raise ValueError("y holds classes that are not in classes=")
            self.classes_ = found
            self.model_ = self._new_model(len(found))
        code = np.searchsorted(self.classes_, y)
        if (code >= len(self.classes_)).any() or (self.classes_[np.minimum(code, len(self.classes_) - 1)] != y).any():
            raise ValueError(f"y holds classes that the model was not given (it knows {self.classes_.tolist()})")
        weights = None if sample_weight is None else _sample_weight(sample_weight, X)
        if self._multiclass():
            if weights is None:
                labels = [str(c + 1) for c in code.tolist()]
            else:
                labels = [f"{c + 1} {w!r}" for c, w in zip(code.tolist(), weights.astype(np.float64).tolist())]
            data = _text(X, labels)
            for _ in range(passes):
                self.model_.learn_many(data)
        else:
            self._learn_csr(X, np.where(code == 1, 1.0, -1.0), weights, passes)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Binary: the raw score of each row (above 0: ``classes_[1]``), shape ``(n,)``. Multiclass:
        shape ``(n, K)``, the log-probabilities (logistic loss) or VW's per-class raw scores."""
        check_is_fitted(self)
        X = self._rows(X, reset=False)
        if not self._multiclass():
            return self._raw(X)
        if self._logistic():
            with np.errstate(divide="ignore"):
                return np.log(self._proba_mc(X))
        return self._raw_scores_mc(X)

    def _proba_mc(self, X: Any) -> np.ndarray:
        p = np.asarray(self.model_.predict_many(_text(X)), dtype=np.float64)
        return p.reshape(-1, len(self.classes_))

    def _raw_scores_mc(self, X: Any) -> np.ndarray:
        k = len(self.classes_)
        with tempfile.TemporaryFile() as f:
            opts = {"learn": False, "account": False, "strict": True, "collect": True, "raw_fd": f.fileno()}
            self.model_.core.run_buffer(_text(X), opts)
            f.seek(0)
            text = f.read().decode()
        values = [float(t.split(":")[1]) for t in text.split()]
        return np.asarray(values, dtype=np.float64).reshape(-1, k)

    def predict(self, X: Any) -> np.ndarray:
        """The class of each row."""
        check_is_fitted(self)
        X = self._rows(X, reset=False)
        if not self._multiclass():
            return self.classes_[(self._raw(X) > 0).astype(np.intp)]
        if self._logistic():
            return self.classes_[np.argmax(self._proba_mc(X), axis=1)]
        out = np.asarray(self.model_.predict_many(_text(X)), dtype=np.int64)
        return self.classes_[out - 1]

    @available_if(lambda self: self._logistic())
    def predict_proba(self, X: Any) -> np.ndarray:
        """Each row's probability of each class (columns in ``classes_`` order); logistic loss only."""
        check_is_fitted(self)
        X = self._rows(X, reset=False)
        if self._multiclass():
            return self._proba_mc(X)
        p = 1.0 / (1.0 + np.exp(-self._raw(X)))
        return np.column_stack([1.0 - p, p])

    @available_if(lambda self: self._logistic())
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


class WabbitRegressor(RegressorMixin, _WabbitBase):
    """A wabbit (VW) linear regressor: squared loss by default (``loss_function="quantile"``,
    ``"poisson"``, ... through the same parameter). See :mod:`wabbit.sklearn`.

    Attributes after :meth:`fit`: ``n_features_in_`` (``feature_names_in_`` for a frame),
    ``model_`` (the :class:`wabbit.Model`).

    >>> import numpy as np
    >>> from sklearn.model_selection import cross_val_score
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5]) + 3.0
    >>> bool(cross_val_score(WabbitRegressor(passes=20), X, y, cv=3).min() > 0.95)
    True
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "WabbitRegressor":
        """Learn a new model from the rows ``X`` and their targets ``y`` (``passes`` times)."""
        self.__dict__.pop("model_", None)
        return self._partial(X, y, sample_weight, self.passes, reset=True)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> "WabbitRegressor":
        """Learn the rows once more, online (the first call starts the model)."""
        return self._partial(X, y, sample_weight, 1, reset=not hasattr(self, "model_"))

    def _partial(self, X: Any, y: Any, sample_weight: Any, passes: int, reset: bool) -> "WabbitRegressor":
        X, y = validate_data(
            self,
            _frame_numeric(X),
            y,
            reset=reset,
            accept_sparse=["csr", "csc", "coo"],
            dtype=[np.float32, np.float64],
            y_numeric=True,
        )
        if reset:
            self.model_ = self._new_model()
        weights = None if sample_weight is None else _sample_weight(sample_weight, X)
        self._learn_csr(X, np.asarray(y, dtype=np.float64), weights, passes)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The model's prediction for each row."""
        check_is_fitted(self)
        return self._raw(self._rows(X, reset=False))
