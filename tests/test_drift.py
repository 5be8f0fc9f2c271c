"""wabbit.drift's detectors raise river 0.26.1's alarms (and warnings) at the same indices.

Every run draws a new seed (printed in each assertion message; set WABBIT_TEST_SEED to replay
one), generates abrupt, gradual and drift-free streams, numeric and binary, from it, and draws
non-default parameters from it, so the streams and settings are not chosen in advance. Each stream
goes through river per value and through wabbit per value, through ``update_many`` in random
chunks, and through a pickled copy taken mid-stream.
"""

from __future__ import annotations

import copy
import math
import os
import pickle
import random
import zlib

import numpy as np
import pytest

from wabbit import drift

river_drift = pytest.importorskip("river.drift")
pytest.importorskip("river.drift.binary")
from river.drift import binary as river_binary  # noqa: E402

SEED = int(os.environ.get("WABBIT_TEST_SEED", random.SystemRandom().randrange(2**32)))


def _rng(*keys: object) -> np.random.Generator:
    return np.random.default_rng([SEED, *(zlib.crc32(str(k).encode()) for k in keys)])


# ------------------------------------------------------------------------------ streams
def _segments(rng: np.random.Generator, n: int, k: int) -> list:
    cuts = np.sort(rng.choice(np.arange(n // 10, n - n // 10), size=k, replace=False))
    return list(np.diff(np.concatenate([[0], cuts, [n]])))


def numeric_stream(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """Numbers: abrupt mean/scale changes, gradual changes (the new concept's share ramps up), or
    none; from normal, exponential, uniform and small-integer distributions."""
    draw = [
        lambda m, s, size: rng.normal(m, s, size),
        lambda m, s, size: m + rng.exponential(s, size),
        lambda m, s, size: m + s * rng.random(size),
        lambda m, s, size: np.round(m + s * rng.integers(0, 4, size)),  # ties
    ][int(rng.integers(0, 4))]
    concepts = [(rng.normal(0, 3), rng.uniform(0.2, 3)) for _ in range(4)]
    if kind == "none":
        return draw(*concepts[0], n)
    parts, start = [], 0
    for i, length in enumerate(_segments(rng, n, 3)):
        old, new = concepts[i % 4], concepts[(i + 1) % 4]
        if kind == "abrupt" or i == 0:
            parts.append(draw(*new, length) if i else draw(*old, length))
        else:  # gradual: the share of the new concept grows linearly over the segment
            share = np.linspace(0, 1, length)
            parts.append(np.where(rng.random(length) < share, draw(*new, length), draw(*old, length)))
        start += length
    return np.concatenate(parts).astype(np.float64)


def unit_stream(kind: str, rng: np.random.Generator, n: int, binary: bool) -> np.ndarray:
    """Error indicators (binary) or values in [0, 1] (losses, probabilities) whose mean drifts."""
    means = rng.uniform(0.05, 0.6, 4)
    if kind == "none":
        p = np.full(n, means[0])
    else:
        lengths = _segments(rng, n, 3)
        p, level = [], means[0]
        for i, length in enumerate(lengths):
            target = means[i % 4] if i else level
            if kind == "abrupt" or i == 0:
                p.append(np.full(length, target))
            else:
                p.append(np.linspace(level, target, length))
            level = target
        p = np.concatenate(p)
    if binary:
        return (rng.random(n) < p).astype(np.float64)
    values = rng.beta(2 * p / (1 - p) + 0.01, 2.0)  # mean about p, in [0, 1]
    exact = rng.random(n) < 0.2  # some exact 0s and 1s among them
    values[exact] = (rng.random(int(exact.sum())) < p[exact]).astype(np.float64)
    return np.clip(values, 0.0, 1.0)


# ------------------------------------------------------------------------------ parameters
def adwin_params(rng):
    return dict(
        delta=float(10 ** rng.uniform(-4, -0.3)),
        clock=int(rng.choice([1, 2, 5, 16, 32, 100])),
        max_buckets=int(rng.integers(2, 11)),
        min_window_length=int(rng.integers(0, 40)),
        grace_period=int(rng.integers(0, 300)),
    )


def page_hinkley_params(rng):
    return dict(
        min_instances=int(rng.integers(1, 100)),
        delta=float(rng.uniform(0, 0.1)),
        threshold=float(rng.uniform(2, 80)),
        alpha=float(1 - 10 ** rng.uniform(-5, -1)),
        mode=str(rng.choice(["up", "down", "both"])),
    )


def ddm_params(rng):
    w = float(rng.uniform(1, 3))
    return dict(warm_start=int(rng.integers(1, 100)), warning_threshold=w, drift_threshold=w + float(rng.uniform(0, 2)))


def eddm_params(rng):
    beta = float(rng.uniform(0.5, 0.95))
    return dict(warm_start=int(rng.integers(1, 60)), alpha=float(rng.uniform(beta, 0.99)), beta=beta)


def hddm_a_params(rng):
    d = float(10 ** rng.uniform(-5, -1))
    return dict(
        drift_confidence=d, warning_confidence=float(rng.uniform(d, 0.2)), two_sided_test=bool(rng.integers(0, 2))
    )


def hddm_w_params(rng):
    p = hddm_a_params(rng)
    p["lambda_val"] = float(rng.uniform(0.01, 0.5))
    return p


# name: (river class, wabbit class, parameter sampler, stream families, warning zone)
DETECTORS = {
    "ADWIN": (river_drift.ADWIN, drift.ADWIN, adwin_params, ("numeric", "binary", "unit"), False),
    "PageHinkley": (
        river_drift.PageHinkley,
        drift.PageHinkley,
        page_hinkley_params,
        ("numeric", "binary", "unit"),
        False,
    ),
    "DDM": (river_binary.DDM, drift.DDM, ddm_params, ("binary", "unit"), True),
    "EDDM": (river_binary.EDDM, drift.EDDM, eddm_params, ("binary", "unit"), True),
    "HDDMA": (river_binary.HDDMA, drift.HDDMA, hddm_a_params, ("binary", "unit"), True),
    "HDDMW": (river_binary.HDDMW, drift.HDDMW, hddm_w_params, ("binary", "unit"), True),
}
LENGTH = {"ADWIN": 20000, "PageHinkley": 20000, "DDM": 8000, "EDDM": 8000, "HDDMA": 5000, "HDDMW": 4000}


def make_stream(family: str, kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if family == "numeric":
        return numeric_stream(kind, rng, n)
    return unit_stream(kind, rng, n, binary=family == "binary")


def river_run(det, values, warnings: bool):
    drifts, warns = [], []
    for i, x in enumerate(values.tolist()):
        det.update(x)
        if det.drift_detected:
            drifts.append(i)
        if warnings and det.warning_detected:
            warns.append(i)
    return drifts, warns


def wabbit_run_per_value(det, values, warnings: bool):
    drifts, warns = [], []
    for i, x in enumerate(values.tolist()):
        hit = det.update(x)
        assert hit is det.drift_detected
        if hit:
            drifts.append(i)
        if warnings and det.warning_detected:
            warns.append(i)
    return drifts, warns


def wabbit_run_chunked(det, values, warnings: bool, rng):
    drifts, warns, start = [], [], 0
    while start < len(values):
        stop = min(len(values), start + int(rng.integers(0, 3000)))
        chunk = values[start:stop]
        if warnings:
            d, w = det.update_many(chunk, return_warnings=True)
            warns.extend((w + start).tolist())
        else:
            d = det.update_many(chunk)
        assert d.dtype == np.int64
        drifts.extend((d + start).tolist())
        start = stop
    return drifts, warns


def _cases():
    for name, (_, _, _, families, _) in DETECTORS.items():
        for family in families:
            for kind in ("abrupt", "gradual", "none"):
                for setting in ("default", "drawn-1", "drawn-2"):
                    yield pytest.param(name, family, kind, setting, id=f"{name}-{family}-{kind}-{setting}")


@pytest.mark.parametrize("name,family,kind,setting", list(_cases()))
def test_alarms_equal_rivers(name, family, kind, setting):
    river_cls, wabbit_cls, sampler, _, warnings = DETECTORS[name]
    rng = _rng(name, family, kind, setting)
    params = {} if setting == "default" else sampler(rng)
    values = make_stream(family, kind, rng, LENGTH[name])
    where = f"seed {SEED} (WABBIT_TEST_SEED={SEED} replays it), {name}({params}), {family}/{kind} stream"

    expected = river_run(river_cls(**params), values, warnings)
    assert wabbit_run_per_value(wabbit_cls(**params), values, warnings) == expected, f"update(): {where}"
    assert wabbit_run_chunked(wabbit_cls(**params), values, warnings, rng) == expected, f"update_many(): {where}"

    # Pickled mid-stream, the copy continues exactly as the original would have.
    cut = int(rng.integers(0, len(values)))
    det = wabbit_cls(**params)
    first = wabbit_run_chunked(det, values[:cut], warnings, rng)
    twin = pickle.loads(pickle.dumps(det))
    rest = wabbit_run_chunked(twin, values[cut:], warnings, rng)
    joined = (first[0] + [i + cut for i in rest[0]], first[1] + [i + cut for i in rest[1]])
    assert joined == expected, f"pickled at {cut}: {where}"


@pytest.mark.parametrize("family", ["numeric", "binary"])
def test_adwin_window_statistics_equal_rivers(family):
    rng = _rng("adwin-stats", family)
    params = adwin_params(rng)
    values = make_stream(family, "abrupt", rng, 5000)
    ours, theirs = drift.ADWIN(**params), river_drift.ADWIN(**params)
    for x in values.tolist():
        ours.update(x)
        theirs.update(x)
        if ours.drift_detected:
            assert ours.width == theirs.width
    where = f"seed {SEED}, ADWIN({params})"
    assert (ours.width, ours.total, ours.variance, ours.n_detections) == (
        theirs.width,
        theirs.total,
        theirs.variance,
        theirs.n_detections,
    ), where
    assert ours.estimation == theirs.estimation, where


def test_river_docstring_examples_give_rivers_indices():
    # river 0.26.1's docstring streams, with the indices its docstrings print.
    rng = random.Random(12345)
    stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    assert drift.ADWIN().update_many(stream).tolist() == [1023]
    assert drift.PageHinkley().update_many(stream).tolist() == [1006]
    rng = random.Random(42)
    errors = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    for det, drift_at, first_warning in [
        (drift.DDM(), 1334, 1084),
        (drift.EDDM(alpha=0.8, beta=0.75), 1278, 1059),
        (drift.HDDMA(), 1206, 451),
        (drift.HDDMW(), 1077, 451),
    ]:
        d, w = det.update_many(errors, return_warnings=True)
        assert d.tolist() == [drift_at] and w[0] == first_warning, det


# ------------------------------------------------------------------------------ the interface
ALL = [drift.ADWIN, drift.PageHinkley, drift.KSWIN, drift.DDM, drift.EDDM, drift.HDDMA, drift.HDDMW]
WITH_WARNINGS = [drift.DDM, drift.EDDM, drift.HDDMA, drift.HDDMW]


def _drifting(n: int = 4000) -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.concatenate([(rng.random(n // 2) < 0.1), (rng.random(n // 2) < 0.7)]).astype(np.float64)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_one_interface(cls):
    det = cls(seed=1) if cls is drift.KSWIN else cls()
    assert isinstance(det, drift.DriftDetector)
    assert isinstance(det, drift.DriftAndWarningDetector) == (cls in WITH_WARNINGS)
    assert hasattr(det, "warning_detected") == (cls in WITH_WARNINGS)
    values = _drifting()
    hits = [i for i, x in enumerate(values) if det.update(x)]
    assert hits, f"{cls.__name__} saw no drift in an obvious one"
    assert isinstance(det.update(0.0), bool) and isinstance(det.drift_detected, bool)

    fresh = det.clone()
    assert repr(fresh) == repr(det) and fresh is not det
    many = fresh.update_many(values)
    assert many.dtype == np.int64 and many.ndim == 1 and many.tolist() == hits
    fresh.reset()
    assert not fresh.drift_detected
    assert fresh.update_many(list(values)).tolist() == hits  # a list works too; reset forgot all
    assert fresh.update_many(np.array([])).tolist() == []
    fresh.reset()
    assert fresh.update_many(values.astype(np.float32)).tolist() == hits  # any real dtype


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_bad_values_are_refused_and_change_nothing(cls):
    det = cls(seed=1) if cls is drift.KSWIN else cls()
    values = _drifting()
    det.update_many(values[:1500])
    state = pickle.dumps(det)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            det.update(bad)
        with pytest.raises(ValueError):
            det.update_many(np.array([0.0, 1.0, bad]))
    with pytest.raises(ValueError):
        det.update_many(np.zeros((2, 2)))
    assert pickle.dumps(det) == state


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_pickle_and_copy_keep_the_whole_state(cls):
    det = cls(seed=5) if cls is drift.KSWIN else cls()
    values = _drifting(6000)
    det.update_many(values[:2500])
    for twin in (pickle.loads(pickle.dumps(det)), copy.deepcopy(det), copy.copy(det)):
        assert type(twin) is cls and repr(twin) == repr(det)
        assert twin.update_many(values[2500:]).tolist() == copy.deepcopy(det).update_many(values[2500:]).tolist()


def test_parameters_are_read_only_and_validated():
    adwin = drift.ADWIN(delta=0.01)
    assert adwin.delta == 0.01
    with pytest.raises(AttributeError):
        adwin.delta = 0.5
    with pytest.raises(ValueError):
        drift.PageHinkley(mode="sideways")
    with pytest.raises(ValueError):
        drift.EDDM(alpha=0.8, beta=0.9)
    for bad in (dict(clock=0), dict(max_buckets=0), dict(delta=0.0), dict(delta=1.5)):
        with pytest.raises(ValueError):
            drift.ADWIN(**bad)
    with pytest.raises(ValueError):
        drift.KSWIN(window_size=50, stat_size=30)


def test_adwin_with_one_bucket_per_size_keeps_going():
    # river 0.26.1 panics here (it deletes from an emptied level); wabbit drops empty levels.
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, 3000), rng.normal(3, 1, 3000)])
    det = drift.ADWIN(clock=1, max_buckets=1, min_window_length=1, grace_period=0)
    hits = det.update_many(values)
    assert len(hits) > 0 and hits[0] >= 3000
    assert det.width > 0


def test_detectors_start_afresh_after_an_alarm():
    det = drift.PageHinkley(threshold=5)
    values = np.concatenate([np.zeros(100), np.full(100, 10.0)])
    (first, *_) = det.update_many(values)
    det2 = drift.PageHinkley(threshold=5)
    det2.update_many(values[: first + 1])
    assert det2.drift_detected
    det2.update(0.0)  # the value after an alarm starts a new stream
    fresh = drift.PageHinkley(threshold=5)
    fresh.update(0.0)
    assert det2._state() == fresh._state()


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_parameters_come_from_the_signature_once(cls):
    # each parameter is named once (the constructor's signature): params, the read-only attributes,
    # repr and clone all follow the signature, with the defaults filled in
    import inspect

    names = list(inspect.signature(cls.__init__).parameters)[1:]
    det = cls()
    assert list(det.params) == names
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name != "self" and name != "window":  # KSWIN's window is a property of the live window
            assert getattr(det, name) == p.default == det.params[name]
    assert repr(det) == f"{cls.__name__}(" + ", ".join(f"{k}={v!r}" for k, v in det.params.items()) + ")"
    assert det.clone().params == det.params


def test_state_and_set_state_resume_the_stream():
    # the public pair the drift monitor uses to replay ADWIN up to its alarms
    det = drift.ADWIN()
    values = _drifting(3000)
    det.update_many(values[:1000])
    state = det.state()
    first = det.update_many(values[1000:]).tolist()
    det.set_state(state)
    assert det.update_many(values[1000:]).tolist() == first and first


def test_a_detector_of_ones_own_keeps_its_attributes():
    # a user subclass with the parameter's name as its own attribute (as river's detectors do)
    class Mine(drift.DriftDetector):
        def __init__(self, at=(3,)):
            self.at = set(at)
            self.n = 0

        def update(self, x):
            self.n += 1
            return self.n in self.at

        def reset(self):
            self.n = 0

        @property
        def drift_detected(self):
            return self.n in self.at

        def _state(self):
            return self.n

        def _set_state(self, state):
            self.n = state

    m = Mine(at=[2])
    assert m.at == {2} and m.params == {"at": [2]} and repr(m) == "Mine(at=[2])"
    assert m.update_many([0, 0, 0]).tolist() == [1]
    twin = copy.deepcopy(m)
    assert twin.n == 3 and twin.at == {2} and twin.params == {"at": [2]}
