"""Data for bench_suite.py: the wide synthetic stream, VW-line parsing, and CSR pre-hashing.

Nothing here is timed by the suite except :func:`parse_line`, which river's and scikit-learn's
children call inside their timed region (VW and wabbit parse the same text inside theirs).
"""

from __future__ import annotations

import os
from array import array
from typing import Dict, Iterator, List, Tuple

import numpy as np

WIDE_NAMESPACES = "abcd"
WIDE_VOCAB = 2_000  # distinct feature ids per namespace
WIDE_LEVELS = 100  # feature values are 0.01, 0.02, ..., 1.00
_WIDE_BLOCK = 10_000


def write_wide(path: str | os.PathLike[str], n: int, *, seed: int = 0, n_features: int = 200) -> float:
    """Write ``n`` lines of a wide logistic stream; return the fraction of positive labels.

    Each line has ``n_features`` numeric features spread evenly over the namespaces ``a b c d``
    (``|a 123:0.52 9876:0.07 ...``): feature ids uniform over ``WIDE_VOCAB`` per namespace (so
    each id recurs and is learnable), values uniform over 0.01..1.00. The label is 1 or -1, drawn
    from a hidden linear logistic model with one N(0, s) weight per (namespace, id), s chosen so
    the logit's standard deviation is about 2, and a bias of -1.
    """
    per_ns = n_features // len(WIDE_NAMESPACES)
    if per_ns < 1:
        raise ValueError(f"n_features must be >= {len(WIDE_NAMESPACES)}")
    rng = np.random.default_rng(seed)
    k = per_ns * len(WIDE_NAMESPACES)
    scale = 2.0 / np.sqrt(k * (1.0 / 3.0))  # E[v^2] = 1/3 for v uniform on (0, 1]
    weights = rng.normal(0.0, scale, (len(WIDE_NAMESPACES), WIDE_VOCAB))
    id_tok = np.array([f"{i}:" for i in range(WIDE_VOCAB)], dtype=object)
    val_tok = np.array([f"{(j + 1) / WIDE_LEVELS:.2f}" for j in range(WIDE_LEVELS)], dtype=object)
    values = (np.arange(WIDE_LEVELS) + 1) / WIDE_LEVELS
    positives = 0
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        for start in range(0, n, _WIDE_BLOCK):
            m = min(_WIDE_BLOCK, n - start)
            ids = rng.integers(0, WIDE_VOCAB, (m, len(WIDE_NAMESPACES), per_ns))
            lv = rng.integers(0, WIDE_LEVELS, (m, len(WIDE_NAMESPACES), per_ns))
            z = -1.0 + (weights[np.arange(len(WIDE_NAMESPACES))[None, :, None], ids] * values[lv]).sum(axis=(1, 2))
            y = rng.random(m) < 1.0 / (1.0 + np.exp(-z))
            positives += int(y.sum())
            toks = (id_tok[ids] + val_tok[lv]).tolist()  # [line][namespace][feature] strings
            out: List[str] = []
            for label, row in zip(y.tolist(), toks):
                parts = ["1" if label else "-1"]
                for ns, feats in zip(WIDE_NAMESPACES, row):
                    parts.append(f"|{ns} " + " ".join(feats))
                out.append(" ".join(parts))
            fh.write("\n".join(out))
            fh.write("\n")
    return positives / n if n else float("nan")


def parse_line(line: str) -> Tuple[int, Dict[str, float]]:
    """(label -1/1, {"ns^feature": value}) for a VW text line of the synthetic logs.

    ``name:value`` is a numeric feature, a bare ``name`` has value 1, as in VW. Enough of VW's
    format for these files (simple labels, ``|ns`` without a namespace weight); not a general parser.
    """
    label, _, rest = line.partition("|")
    x: Dict[str, float] = {}
    for part in rest.split("|"):
        toks = part.split()
        if not toks:
            continue
        ns = toks[0]
        for t in toks[1:]:
            name, colon, value = t.partition(":")
            x[ns + "^" + name] = float(value) if colon else 1.0
    return (1 if float(label.split()[0]) > 0 else -1), x


def iter_lines(path: str | os.PathLike[str]) -> Iterator[str]:
    with open(path, encoding="ascii") as fh:
        for line in fh:
            if line.strip():
                yield line


def prehash_csr(path: str | os.PathLike[str]) -> Dict[str, np.ndarray]:
    """The file's examples as CSR arrays with VW's feature hashes (what the core would compute).

    indices (uint32): ``hash_feature(name, hash_namespace(ns))``, the 32-bit hash before the
    ``-b`` mask (VW's weight row is ``index & (2**b - 1)``); values (float32); offsets (int64, one
    more than the rows: row i is ``indices[offsets[i]:offsets[i+1]]``); labels (float32, -1/1).
    The constant feature is not included (the learner adds it, as for text input).
    """
    from wabbit._core import hash_feature, hash_namespace

    ns_hash: Dict[str, int] = {}
    cache: Dict[Tuple[str, str], int] = {}
    indices = array("I")  # compact: 4 bytes an entry (1M click-log lines: 10M entries)
    values = array("f")
    offsets = array("q", [0])
    labels = array("f")
    for line in iter_lines(path):
        label, _, rest = line.partition("|")
        labels.append(1.0 if float(label.split()[0]) > 0 else -1.0)
        for part in rest.split("|"):
            toks = part.split()
            if not toks:
                continue
            ns = toks[0]
            for t in toks[1:]:
                name, colon, value = t.partition(":")
                key = (ns, name)
                h = cache.get(key)
                if h is None:
                    if ns not in ns_hash:
                        ns_hash[ns] = hash_namespace(ns)
                    h = cache[key] = hash_feature(name, ns_hash[ns])
                indices.append(h)
                values.append(float(value) if colon else 1.0)
        offsets.append(len(indices))
    return {
        "indices": np.frombuffer(indices, dtype=np.uint32).copy(),
        "values": np.frombuffer(values, dtype=np.float32).copy(),
        "offsets": np.frombuffer(offsets, dtype=np.int64).copy(),
        "labels": np.frombuffer(labels, dtype=np.float32).copy(),
    }
