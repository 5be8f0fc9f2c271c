"""Mutated model files for tests/test_model_fuzz.py (issue 14, item 15).

A model file (docs/model-format.md) is split into its fields; a mutation changes one field (or
the raw bytes), the file is put back together with its string lengths and its CRC-32 recomputed,
so the loader has to judge the contents, not just the checksum. Every mutated file must load (and
then be usable) or be refused with ``wabbit.ModelError``.

The layout (all little-endian): magic (8) | format version u32 | wabbit version str | options str |
metadata str | six f64 (t, normalized_sum_norm_x, total_weight, weighted_unlabeled, gravity,
contraction) | min_label, max_label f32 | bits u32 | stride u32 | predict_only u8 | encoding u8 |
config (u32 size, then the resolved configuration and a bandit's state; format 2) | weights |
CRC-32, where str is a u32 length and that many bytes.
"""

from __future__ import annotations

import json
import random
import shlex
import struct
import zlib
from typing import Any, Dict, List, Tuple

NUMBERS = ("t", "normalized_sum_norm_x", "total_weight", "weighted_unlabeled", "gravity", "contraction")

# values a header field may be replaced with: huge, negative, float, string, null, nested, ...
ODD_VALUES: List[Any] = [
    10**30,
    -(10**30),
    2**64,
    2**63 - 1,
    -1,
    0,
    1.5,
    -0.0,
    1e308,
    -1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    "x",
    "",
    "1",
    "-1",
    "1e400",
    None,
    True,
    False,
    [],
    {},
    [1, 2],
    {"a": 1},
    [[[]]],
    {"sources": "x"},
    "\u00e9\udcff",
]


def split(data: bytes) -> Dict[str, Any]:
    """The fields of a well-formed model file."""
    off = 12
    strings = []
    for _ in range(3):
        (n,) = struct.unpack_from("<I", data, off)
        strings.append(data[off + 4 : off + 4 + n])
        off += 4 + n
    fixed = data[off : off + 6 * 8 + 2 * 4 + 2 * 4 + 2]
    at = off + len(fixed)
    (size,) = struct.unpack_from("<I", data, at)
    config = data[at : at + 4 + size]
    return {
        "head": data[:12],
        "version": strings[0],
        "options": strings[1],
        "metadata": strings[2],
        "fixed": fixed,
        "config": config,
        "weights": data[at + len(config) : -4],
    }


def join(f: Dict[str, Any]) -> bytes:
    body = bytearray(f["head"])
    for name in ("version", "options", "metadata"):
        body += struct.pack("<I", len(f[name])) + f[name]
    body += f["fixed"] + f["config"] + f["weights"]
    return with_crc(bytes(body))


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def odd_json_value(rng: random.Random) -> Any:
    v = rng.choice(ODD_VALUES + ["DEEP", "WIDE", "LONG"])
    if v == "LONG":  # an integer of 5,000 digits
        return _Raw("7" * 5000)
    if v == "DEEP":  # nesting far beyond any recursion limit
        depth = rng.choice([50, 1000, 100_000])
        return (
            json.loads("[" * min(depth, 900) + "]" * min(depth, 900))
            if depth < 1000
            else _Raw("[" * depth + "]" * depth)
        )
    if v == "WIDE":
        return list(range(rng.choice([10, 10_000])))
    return v


class _Raw(str):
    """JSON text spliced in as is (nesting too deep for json.dumps)."""


def dumps(obj: Any) -> bytes:
    raws: List[str] = []

    def swap(o: Any) -> Any:
        if isinstance(o, _Raw):
            raws.append(str(o))
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(o, dict):
            return {k: swap(v) for k, v in o.items()}
        if isinstance(o, list):
            return [swap(v) for v in o]
        return o

    text = json.dumps(swap(obj))
    for i, raw in enumerate(raws):
        text = text.replace(f'"@@RAW{i}@@"', raw)
    return text.encode("utf-8", "surrogatepass")


def paths(obj: Any, prefix: Tuple = ()) -> List[Tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:6]):
            out += paths(v, prefix + (i,))
    return out


def mutate_metadata(rng: random.Random, raw: bytes) -> bytes:
    kind = rng.random()
    if kind < 0.08:  # not JSON / not an object
        return rng.choice([b"", b"{", b"[]", b"null", b"\xff\xfe", b'"text"', b"1" * 5000, b"[" * 100_000, b"{}" * 3])
    meta = json.loads(raw)
    where = rng.choice(paths(meta)[1:] or [()])
    if not where:
        return dumps(odd_json_value(rng))
    parent = meta
    for k in where[:-1]:
        parent = parent[k]
    last = where[-1]
    if rng.random() < 0.25 and isinstance(parent, dict):
        del parent[last]
    elif rng.random() < 0.15 and isinstance(parent, list):
        del parent[last]
    else:
        parent[last] = odd_json_value(rng)
    return dumps(meta)


OPTION_EXTRAS = [
    "-b 32",
    "-b 31",
    "-b 0",
    "-b -3",
    "-b 99",
    "-b 1.5",
    "-b x",
    "--bit_precision 4294967296",
    "-b 1",
    "--cb 0",
    "--cb -1",
    "--cb 1000000000000",
    "--bag 100000000000",
    "--bag 0",
    "--first -5",
    "--cb_explore_adf",
    "--cb_adf",
    "--cb 3",
    "--squarecb",
    "--quadratic",
    "--quadratic abc",
    "--interactions " + "a" * 40,
    "--cubic aaa",
    "-q ::",
    "--learning_rate nan",
    "--learning_rate inf",
    "-l -1",
    "--power_t 1e400",
    "--l1 nan",
    "--l2 inf",
    "--l1 -1",
    "--ftrl",
    "--ftrl_alpha nan",
    "--pa_c nan",
    "--pa",
    "--perceptron",
    "--loss_function nope",
    "--link nope",
    "--epsilon 2",
    "--random_seed -1",
    "--random_seed 1e30",
    "--max_pending 0",
    "--reward_ttl nan",
    "--min_prediction nan",
    "--max_prediction -inf",
    "-d /etc/passwd",
    "-f out",
    "--threads 100000",
    "--unknown_flag",
    "'unclosed",
    '"',
    "--ignore ''",
    "--keep ''",
    "--noconstant",
    "--quantile_tau 5",
    "--logistic_min 3",
    "--sgd",
    "--adaptive",
    "--normalized",
    "--invariant",
    "--cb_type xyz",
    "--softmax --lambda nan",
    "\x00",
    "--ignore \xe9",
    "-q \udcff\udcfe",
]


def mutate_options(rng: random.Random, raw: bytes) -> bytes:
    text = raw.decode("utf-8")
    tokens = shlex.split(text)
    kind = rng.random()
    if kind < 0.35:
        text = text + " " + rng.choice(OPTION_EXTRAS)
    elif kind < 0.55 and tokens:
        del tokens[rng.randrange(len(tokens))]
        text = " ".join(shlex.quote(t) for t in tokens)
    elif kind < 0.8 and tokens:
        i = rng.randrange(len(tokens))
        tokens[i] = str(rng.choice(ODD_VALUES))
        text = " ".join(shlex.quote(t) for t in tokens)
    else:
        text = rng.choice(OPTION_EXTRAS) + " " + rng.choice(OPTION_EXTRAS)
    return text.encode("utf-8", "surrogatepass")


def mutate_fixed(rng: random.Random, fixed: bytes) -> bytes:
    c = bytearray(fixed)
    field = rng.randrange(12)
    if field < 6:  # the online state's doubles
        v = rng.choice([float("nan"), float("inf"), -1.0, 1e308, -0.0, 5e-324, 1e15, 3.0])
        struct.pack_into("<d", c, 8 * field, v)
    elif field < 8:  # min/max label
        v = rng.choice([float("nan"), float("-inf"), 3e38, -3e38, 1.0, -1.0])
        struct.pack_into("<f", c, 48 + 4 * (field - 6), v)
    elif field == 8:  # bits
        struct.pack_into("<I", c, 56, rng.choice([0, 1, 2, 5, 6, 7, 18, 31, 32, 33, 2**31, 2**32 - 1]))
    elif field == 9:  # stride
        struct.pack_into("<I", c, 60, rng.choice([0, 1, 2, 3, 4, 8, 2**32 - 1]))
    elif field == 10:
        c[64] = rng.choice([0, 1, 2, 255])
    else:
        c[65] = rng.choice([0, 1, 2, 255])
    return bytes(c)


def mutate_weights(rng: random.Random, w: bytes) -> bytes:
    c = bytearray(w)
    if not c:
        return bytes(c)
    k = rng.random()
    if k < 0.3 and len(c) >= 8:  # the sparse count / a row index / a weight as an odd number
        off = rng.randrange(0, len(c) - 3)
        struct.pack_into("<I", c, off, rng.choice([0, 1, 2**31, 2**32 - 1, 0x7FC00000, 0x7F800000]))
    elif k < 0.5 and len(c) >= 8:
        struct.pack_into("<Q", c, 0, rng.choice([0, 1, 2**40, 2**64 - 1]))
    elif k < 0.75:
        del c[rng.randrange(len(c)) :]
    else:
        at = rng.randrange(len(c) + 1)
        c[at:at] = bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 8, 20])))
    return bytes(c)


def mutate_raw(rng: random.Random, data: bytes) -> bytes:
    """Byte flips, truncations and insertions anywhere, CRC recomputed (or, rarely, not)."""
    body = bytearray(data[:-4])
    k = rng.random()
    if k < 0.45:
        for _ in range(rng.choice([1, 1, 2, 5])):
            i = rng.randrange(len(body))
            body[i] ^= 1 << rng.randrange(8) if rng.random() < 0.7 else rng.randrange(1, 256)
    elif k < 0.7:
        del body[rng.randrange(8, len(body)) :]
    elif k < 0.95:
        at = rng.randrange(8, len(body) + 1)
        body[at:at] = bytes(rng.randrange(256) for _ in range(rng.choice([1, 3, 4, 8, 16])))
    else:
        return bytes(body) + bytes(rng.randrange(256) for _ in range(4))  # checksum left wrong
    return with_crc(bytes(body))


def mutate(rng: random.Random, data: bytes) -> Tuple[str, bytes]:
    """One mutation of a model file: (what was done, the new bytes)."""
    f = split(data)
    k = rng.random()
    if k < 0.25:
        f["metadata"] = mutate_metadata(rng, f["metadata"])
        return "metadata", join(f)
    if k < 0.45:
        f["options"] = mutate_options(rng, f["options"])
        return "options", join(f)
    if k < 0.6:
        f["fixed"] = mutate_fixed(rng, f["fixed"])
        return "header", join(f)
    if k < 0.65:
        f["weights"] = mutate_weights(rng, f["weights"])
        return "weights", join(f)
    if k < 0.68 and len(f["config"]) > 4:  # a byte of the configuration or the bandit's state
        c = bytearray(f["config"])
        c[rng.randrange(4, len(c))] = rng.randrange(256)
        f["config"] = bytes(c)
        return "config", join(f)
    if k < 0.72:
        f["version"] = rng.choice([b"", b"\xff", b"9" * 1000, b"0.0.0\x00", "\u00e9".encode()])
        return "version", join(f)
    if k < 0.75:  # two fields swapped
        a, b = rng.sample(["version", "options", "metadata"], 2)
        f[a], f[b] = f[b], f[a]
        return "swap", join(f)
    return "raw", mutate_raw(rng, data)


def base_models(tmp: str) -> Dict[str, bytes]:
    """Small model files of every kind the loader reads: lineage and user metadata, predict-only,
    dense rows, FTRL, L1/L2 (pending gravity and contraction), a file from a ModelStore, a file
    without lineage, and contextual bandits (SquareCB's counter, bagging with dr's second model,
    --cb K), each trained a little."""
    import os

    import wabbit

    out: Dict[str, bytes] = {}
    m = wabbit.Model("-b 6 -q ab --loss_function logistic")
    m.metadata["user"] = {"run": [1, 2.5, {"k": None, "s": "\u00e9"}], "tags": ["a", "b"]}
    m.learn_many(["1 |a x y |b z", "-1 |a y |b w:2"] * 5)
    m.learn("1 |a q")
    out["lineage"] = m.to_bytes()
    out["predict_only"] = m.to_bytes(predict_only=True)
    store = wabbit.ModelStore(os.path.join(tmp, "store"))
    store.save(m, note="fuzz")
    with open(store.path(store.current), "rb") as f:
        out["store"] = f.read()
    m = wabbit.Model("--ftrl -b 5 --ftrl_alpha 0.3")
    m.learn_many(["1 |a x", "-1 |a y", "2 |b z"] * 4)
    out["ftrl"] = m.to_bytes()
    m = wabbit.Model("--sgd --l1 1e-4 --l2 1e-3 -b 5")
    m.learn_many(["2 |a x", "1 |a y"] * 4)
    out["l1l2"] = m.to_bytes()
    m = wabbit.Model("-b 3 --min_prediction -5 --max_prediction 5")
    m.learn_many([f"{i % 4} |a f{i}" for i in range(30)])
    out["dense"] = m.to_bytes()
    f = split(out["dense"])
    meta = json.loads(f["metadata"])
    meta.pop("lineage")
    f["metadata"] = json.dumps(meta).encode()
    out["no_lineage"] = join(f)
    shared, actions = {"u": {"x": 1.0}}, [{"a": ["p"]}, {"a": ["q"]}, {"a": ["r"]}]
    for name, flags in (
        ("cb_squarecb", "--cb_explore_adf --squarecb -b 6 -q ua"),
        ("cb_bag_dr", "--cb_explore_adf --bag 3 --cb_type dr -b 5 --random_seed 7"),
        ("cb_adf", "--cb_adf -b 5 --cb_type ips"),
    ):
        m = wabbit.Model(flags)
        for i in range(6):
            m.learn((shared, actions), label=(i % 3, float(i % 2), 0.5))
        out[name] = m.to_bytes()
    m = wabbit.Model("--cb 3 -b 5 --max_pending 10")
    for i in range(6):
        m.learn(f"{i % 3 + 1}:{i % 2}:0.5 |a x{i}")
    out["cb_fixed"] = m.to_bytes()
    return out


def use(model: Any) -> None:
    """What a loaded model must survive: predicting, and saving what load reads back; a linear
    model also learns and saves again."""
    import wabbit

    if model._core.is_cb():
        if model.options.cb is not None or model.options.cb_explore is not None:
            model.predict("|a x")
        else:
            model.predict(({"u": {"x": 1.0}}, [{"a": ["p"]}, {"a": ["q"]}]))
            model.predict("shared |u x\n|a p\n|a q")
    else:
        model.predict("|a x |b z")
        model.predict({"a": {"x": 2.0}})
    wabbit.Model.from_bytes(model.to_bytes())
    if not model._core.is_cb():
        try:
            model.learn("1 |a x |b z")
        except ValueError as e:
            # A mutated state (a label range of 3e38, say) can drive an update past float range:
            # the learner refuses the example and changes nothing (issue 14, item 2).
            if "would make weights non-finite" not in str(e):
                raise
        wabbit.Model.from_bytes(model.to_bytes())  # whatever save writes, load reads
