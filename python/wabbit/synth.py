"""Synthetic click stream in Vowpal Wabbit text format.

Each line is one ad impression with a logistic label (``1`` = click,
``-1`` = no click) and about ten features spread over three namespaces::

    -1 |u user=u17 age=3 geo=fr |a ad=a402 cat=c7 adv=v55 price:0.37 |c hour=13 dev=mobile pos:0.4

* ``u`` (user): ``user`` id (Zipf-like popularity), ``age`` bucket and ``geo``;
  age and geo are fixed attributes of the user.
* ``a`` (ad): ``ad`` id (Zipf-like), its category ``cat`` and advertiser
  ``adv`` (fixed attributes of the ad), and a numeric ``price`` in (0, 1].
* ``c`` (context): ``hour``, device ``dev`` and a numeric slot position ``pos``.

Labels are drawn from a fixed hidden logistic model: one weight per
categorical value, negative slopes for ``price`` and ``pos``, plus a
user x ad interaction (a matrix over the user's age bucket and the ad's
category) that only a learner with ``-q ua`` can represent.  Its bias is
calibrated for a base click-through rate of 15%, so a learner can clearly beat
the best constant predictor.

Everything is deterministic for a given ``seed``, and output is prefix-stable:
``click_log(n)`` yields the first ``n`` lines of ``click_log(m)`` for any
``m >= n`` (same seed and options).  Generation is vectorised with numpy in
blocks of ``BLOCK`` lines; a 1M-line file takes a few seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["BLOCK", "click_log", "write_click_log"]

BLOCK = 1 << 16
"""Lines generated per vectorised block."""

_N_USERS = 20_000
_N_ADS = 2_000
_N_CATS = 30
_N_ADVS = 200
_N_AGES = 7
_GEOS = ("us", "gb", "de", "fr", "es", "it", "br", "in", "jp", "ca", "au", "nl")
_DEVS = ("mobile", "desktop", "tablet")
_N_PRICES = 100  # price in {0.01, ..., 1.00}
_N_POS = 5  # pos in {0.2, ..., 1.0}
_EXTRA_CARD = 20  # cardinality of the extra features x<k>= beyond the base ten
_BASE_CTR = 0.15  # mean click rate; each hidden model's bias is calibrated to it

# Base features in the order they are kept when ``n_features`` < 10.
_BASE_ORDER = ("user", "ad", "hour", "cat", "age", "dev", "price", "geo", "adv", "pos")
_NS_OF = {
    "user": "u",
    "age": "u",
    "geo": "u",
    "ad": "a",
    "cat": "a",
    "adv": "a",
    "price": "a",
    "hour": "c",
    "dev": "c",
    "pos": "c",
}


@dataclass(frozen=True)
class _World:
    """Fixed entities: popularity of users/ads and their attributes."""

    user_cdf: np.ndarray
    ad_cdf: np.ndarray
    user_age: np.ndarray
    user_geo: np.ndarray
    ad_cat: np.ndarray
    ad_adv: np.ndarray


@dataclass(frozen=True)
class _Model:
    """Hidden logistic model: per-value weights and the age x cat interaction."""

    w: dict[str, np.ndarray]  # categorical feature -> weight per value
    slope: dict[str, float]  # numeric feature -> slope
    age_cat: np.ndarray  # (_N_AGES, _N_CATS) interaction weights


def _zipf_cdf(n: int, rng: np.random.Generator) -> np.ndarray:
    """Cumulative distribution over ``n`` ids with Zipf-like popularity."""
    p = 1.0 / (np.arange(n) + 10.0)
    p = p[rng.permutation(n)]
    cdf = np.cumsum(p / p.sum())
    cdf[-1] = 1.0
    return cdf


def _make_world(rng: np.random.Generator) -> _World:
    geo_p = rng.dirichlet(np.full(len(_GEOS), 2.0))
    return _World(
        user_cdf=_zipf_cdf(_N_USERS, rng),
        ad_cdf=_zipf_cdf(_N_ADS, rng),
        user_age=rng.integers(0, _N_AGES, _N_USERS),
        user_geo=rng.choice(len(_GEOS), _N_USERS, p=geo_p),
        ad_cat=rng.integers(0, _N_CATS, _N_ADS),
        ad_adv=rng.integers(0, _N_ADVS, _N_ADS),
    )


def _make_model(rng: np.random.Generator, n_extra: int) -> _Model:
    hours = np.arange(24)
    w = {
        "user": rng.normal(0.0, 0.5, _N_USERS),
        "ad": rng.normal(0.0, 0.6, _N_ADS),
        "cat": rng.normal(0.0, 0.4, _N_CATS),
        "adv": rng.normal(0.0, 0.3, _N_ADVS),
        "age": rng.normal(0.0, 0.3, _N_AGES),
        "geo": rng.normal(0.0, 0.3, len(_GEOS)),
        "hour": 0.4 * np.sin(2 * np.pi * (hours - rng.uniform(0, 24)) / 24),
        "dev": rng.normal(0.0, 0.3, len(_DEVS)),
    }
    for k in range(n_extra):
        w[f"x{k}"] = rng.normal(0.0, 0.2, _EXTRA_CARD)
    slope = {"price": -rng.uniform(0.5, 1.5), "pos": -rng.uniform(1.0, 2.0)}
    return _Model(w=w, slope=slope, age_cat=rng.normal(0.0, 1.0, (_N_AGES, _N_CATS)))


def _score(model: _Model, idx: dict[str, np.ndarray], emitted: set[str], cards: dict[str, int]) -> np.ndarray:
    """Logit of the hidden model without its bias, for one block of impressions."""
    z = model.age_cat[idx["age"], idx["cat"]].astype(np.float64)
    for f in sorted(emitted):
        if f in model.slope:
            z += model.slope[f] * (idx[f] + 1) / cards[f]
        else:
            z += model.w[f][idx[f]]
    return z


def _calibrate_bias(z: np.ndarray, ctr: float) -> float:
    """Bias ``b`` such that the mean of ``sigmoid(b + z)`` equals ``ctr`` (bisection)."""
    lo, hi = -20.0, 20.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if np.mean(1.0 / (1.0 + np.exp(-(mid + z)))) < ctr:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _vocab(name: str, card: int) -> list[str]:
    """Token strings (with trailing space) for every value of a feature."""
    if name == "price":
        return [f"price:{(i + 1) / _N_PRICES:.2f} " for i in range(card)]
    if name == "pos":
        return [f"pos:{(i + 1) / _N_POS:g} " for i in range(card)]
    if name == "geo":
        return [f"geo={g} " for g in _GEOS]
    if name == "dev":
        return [f"dev={d} " for d in _DEVS]
    prefix = {"user": "u", "ad": "a", "cat": "c", "adv": "v"}.get(name, "")
    return [f"{name}={prefix}{i} " for i in range(card)]


def _features(n_features: int) -> list[tuple[str, str]]:
    """(namespace, feature) pairs emitted for ``n_features``, in line order."""
    if n_features < 3:
        raise ValueError(f"n_features must be >= 3, got {n_features}")
    names = list(_BASE_ORDER[: min(n_features, len(_BASE_ORDER))])
    pairs = [(_NS_OF[f], f) for f in names]
    pairs += [("uac"[k % 3], f"x{k}") for k in range(n_features - len(names))]
    line_order = ("user", "age", "geo", "ad", "cat", "adv", "price", "hour", "dev", "pos")
    return sorted(pairs, key=lambda p: ("uac".index(p[0]), line_order.index(p[1]) if p[1] in line_order else 99))


def _blocks(n: int, seed: int, n_features: int, drift_at: int | None) -> Iterator[list[str]]:
    """Yield the lines of the click log in blocks of at most ``BLOCK``."""
    feats = _features(n_features)
    n_extra = sum(f.startswith("x") for _, f in feats)
    rng = np.random.default_rng(seed)
    world = _make_world(rng)
    models = (_make_model(rng, n_extra), _make_model(rng, n_extra))  # before / after drift
    cards = {
        "user": _N_USERS,
        "ad": _N_ADS,
        "cat": _N_CATS,
        "adv": _N_ADVS,
        "age": _N_AGES,
        "geo": len(_GEOS),
        "hour": 24,
        "dev": len(_DEVS),
        "price": _N_PRICES,
        "pos": _N_POS,
    }
    cards.update({f"x{k}": _EXTRA_CARD for k in range(n_extra)})
    vocabs = {f: np.array(_vocab(f, cards[f]), dtype=object) for _, f in feats}
    last = feats[-1][1]  # the line's last token carries no trailing space
    vocabs[last] = np.array([t.rstrip() for t in vocabs[last]], dtype=object)
    emitted = {f for _, f in feats}
    labels = np.array(["-1 ", "1 "], dtype=object)

    # Line template: "<label>|u <tokens>|a <tokens>|c <tokens>"; each token ends in a space.
    template, prev_ns = "%s", None
    for ns, _ in feats:
        template += ("" if ns == prev_ns else f"|{ns} ") + "%s"
        prev_ns = ns

    start, biases = 0, None
    while start < n:
        # Always draw a full block so the stream is prefix-stable; format only what is needed.
        m = min(BLOCK, n - start)
        user = np.searchsorted(world.user_cdf, rng.random(BLOCK))
        ad = np.searchsorted(world.ad_cdf, rng.random(BLOCK))
        idx = {
            "user": user,
            "ad": ad,
            "age": world.user_age[user],
            "geo": world.user_geo[user],
            "cat": world.ad_cat[ad],
            "adv": world.ad_adv[ad],
            "price": rng.integers(0, _N_PRICES, BLOCK),
            "hour": rng.integers(0, 24, BLOCK),
            "dev": rng.choice(len(_DEVS), BLOCK, p=[0.6, 0.3, 0.1]),
            "pos": rng.integers(0, _N_POS, BLOCK),
        }
        for k in range(n_extra):
            idx[f"x{k}"] = rng.integers(0, _EXTRA_CARD, BLOCK)
        u = rng.random(BLOCK)

        z = [_score(model, idx, emitted, cards) for model in models]
        if biases is None:  # calibrate each model on the first block to the target CTR
            biases = [_calibrate_bias(zk, _BASE_CTR) for zk in z]
        z = [zk + bk for zk, bk in zip(z, biases)]
        if drift_at is not None:
            z[0] = np.where(np.arange(start, start + BLOCK) >= drift_at, z[1], z[0])
        click = (u < 1.0 / (1.0 + np.exp(-z[0]))).astype(np.intp)

        cols = [labels[click[:m]].tolist()]
        cols += [vocabs[f][idx[f][:m]].tolist() for _, f in feats]
        yield [template % row for row in zip(*cols)]
        start += m


def click_log(n: int, *, seed: int = 0, n_features: int = 10, drift_at: int | None = None) -> Iterator[str]:
    """Yield ``n`` lines of a synthetic click log in VW text format (no newline).

    Labels are ``1`` (click) or ``-1`` (no click).  ``n_features`` (>= 3) is
    the number of features per line: fewer than 10 drops base features,
    more adds categorical noise features ``x<k>=`` spread over u, a and c.
    If ``drift_at`` is given, the hidden model switches to a different,
    independently drawn one from line index ``drift_at`` (0-based) on; lines
    before it are identical to the no-drift stream.

    >>> lines = list(click_log(3, seed=1))
    >>> len(lines), lines[0].split(" ")[0] in {"1", "-1"}
    (3, True)
    >>> lines[0].split(" |")[1].split()[0], lines[0].split(" |")[2].split()[0]
    ('u', 'a')
    >>> len(lines[0].split()) - 4  # tokens minus label and three namespaces
    10
    >>> list(click_log(2, seed=1)) == lines[:2]
    True
    """
    for block in _blocks(n, seed, n_features, drift_at):
        yield from block


def write_click_log(
    path: str | os.PathLike[str], n: int, *, seed: int = 0, n_features: int = 10, drift_at: int | None = None
) -> None:
    """Write ``n`` lines of :func:`click_log` to ``path``, one per line.

    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "clicks.vw"
    ...     write_click_log(p, 5, seed=7)
    ...     p.read_text().splitlines() == list(click_log(5, seed=7))
    True
    """
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        for block in _blocks(n, seed, n_features, drift_at):
            fh.write("\n".join(block))
            fh.write("\n")
