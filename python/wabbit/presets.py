"""The recommended configuration: flags that learn well on real data without tuning (issue 22).

wabbit's defaults are Vowpal Wabbit's, number for number, and stay so. They are a good start for
classification, but on regression VW's adaptive step moves the constant by about the learning rate
per step whatever the scale of the target, so on targets far from unit scale (prices, weights,
counts in the hundreds) the default does worse than predicting the running mean for a long time.
The recommended configuration is opt-in, as river's ``StandardScaler | LinearRegression`` is:

>>> recommended("regression")
'--standardize_labels --center_features'
>>> recommended("classification")
'--loss_function logistic -l 3 --center_features'
>>> import wabbit
>>> wabbit.Model(recommended("regression")).args
'--standardize_labels --center_features'

Both centre the features online (``--center_features``: each value minus its feature's running mean,
as river's StandardScaler does; VW's normalized update already takes care of their scale). For
regression the labels are standardised online too (``--standardize_labels``). For binary
classification (labels -1/1) it is the logistic loss with a larger learning rate than VW's 0.5: on
the shipped data sets VW's rate learns too slowly (the rate was chosen on those sets before
centring was added, and not re-tuned with it, see bench/RESULTS.md).

When to use it: a regression target whose scale is not about 1, or unknown; any binary task; features
whose values sit far from 0. Keep the plain flags when you need VW's exact numbers (comparing with VW,
reading its model files), and tune as with VW when you know the data. bench/bench_quality.py measures it
against VW, river and scikit-learn on every data set shipped with scikit-learn and river
(bench/RESULTS.md).
"""

from __future__ import annotations

__all__ = ["recommended", "RECOMMENDED"]

#: task -> the recommended flags
RECOMMENDED = {
    "regression": "--standardize_labels --center_features",
    "classification": "--loss_function logistic -l 3 --center_features",
}


def recommended(task: str = "regression") -> str:
    """The recommended flags for ``task`` ("regression" or "classification"): pass them to
    :class:`wabbit.Model` (and add your own: interactions, bits)."""
    try:
        return RECOMMENDED[task]
    except KeyError:
        raise ValueError(f"task must be one of {', '.join(RECOMMENDED)}, got {task!r}") from None
