"""wabbit.hash_namespace / wabbit.hash_feature against Vowpal Wabbit's own hashing.

VW's values are computed by VW itself through pyvw: ``Workspace.hash_space(name)`` and
``Workspace.hash_feature(name, namespace_hash)``.  Findings (VW 9.11.9):

* ``hash_feature`` masks its result with the weight mask (2**b - 1; with the default -b 18 it
  returns 18-bit values).  ``hash_space`` is not masked.  We therefore use a workspace created
  with ``--sparse_weights -b 32`` (mask 2**32 - 1, and no 2**32-entry dense weight array is
  allocated), which gives the plain 32-bit hashes.
* Both functions use VW's "strings" hasher (hashstring): leading and trailing bytes 0x00-0x20
  (space, tab, newline, all ASCII control characters) are trimmed -- not Unicode whitespace
  such as U+00A0, and not 0x7F; if what remains is made only of ASCII digits 0-9 (including the
  empty string), the hash is ``(int(digits) + seed) mod 2**32``; otherwise it is
  murmur3_x86_32(trimmed UTF-8 bytes, seed).  This applies to namespace names too:
  ``hash_space("12") == 12`` and VW's text parser uses that hash for ``|12 x``.
* Signs, decimal points, exponents, internal spaces, non-ASCII digits ("١٢", "４２") all make a
  name non-numeric (murmur).
"""

from __future__ import annotations

import random
import string

import mmh3
import pytest

N_NAMES = 20_000
SEED = 20240531
MASK32 = 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# name generator
# ---------------------------------------------------------------------------------------------

_WORD_CHARS = string.ascii_letters + string.digits + "_-./#$%^&*()[]{}=+~!?;'\"<>,:|@"
_UNICODE_BITS = [
    "é",
    "ß",
    "ñ",
    "ü",
    "数据",
    "特征",
    "😀",
    "🦀",
    "Привет",
    "ж",
    "שלום",
    "مرحبا",
    "١٢",
    "４２",
    "Ⅻ",
    "²",
    "café",
    "naïve",
    "Ω",
    "\u0301",
    "ﬁ",
]
_ASCII_WS = [" ", "\t", "\n", "\r", "\x0b", "\x0c"]
_CONTROL = [chr(c) for c in range(1, 0x20)]
_UNICODE_WS_NOT_TRIMMED = ["\u00a0", "\u3000", "\u2003", "\u200b", "\x7f", "\u0085"]


def _word(rng: random.Random) -> str:
    n = rng.randint(1, 12)
    return "".join(rng.choice(_WORD_CHARS) for _ in range(n))


def _letters(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(1, 10)))


def _digits(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.5:
        s = str(rng.randint(0, 99999))
    elif kind < 0.7:
        s = "0" * rng.randint(1, 4) + str(rng.randint(0, 9999))  # leading zeros
    elif kind < 0.9:
        s = str(rng.randint(2**31, 2**33))  # around the 32-bit boundary
    else:
        s = "".join(rng.choice(string.digits) for _ in range(rng.randint(11, 30)))  # overflow
    return s


def _signed(rng: random.Random) -> str:
    return rng.choice("-+") + rng.choice(["", "0", "00"]) + str(rng.randint(0, 10 ** rng.randint(1, 8)))


def _decimal(rng: random.Random) -> str:
    forms = [
        lambda: f"{rng.uniform(-1000, 1000):.{rng.randint(1, 6)}f}",
        lambda: f"{rng.randint(0, 99)}.",
        lambda: f".{rng.randint(0, 999)}",
        lambda: f"{rng.uniform(0, 10):.2f}e{rng.randint(-9, 9)}",
        lambda: f"{rng.randint(1, 9)}E+{rng.randint(0, 30)}",
        lambda: rng.choice(["nan", "inf", "-inf", "1_000", "0x1F", "1e", "e5", "."]),
    ]
    return rng.choice(forms)()


def _unicode(rng: random.Random) -> str:
    parts = [rng.choice(_UNICODE_BITS) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.5:
        parts.insert(rng.randint(0, len(parts)), _letters(rng))
    return "".join(parts)


def _pad(rng: random.Random, core: str, pool) -> str:
    left = "".join(rng.choice(pool) for _ in range(rng.randint(0, 3)))
    right = "".join(rng.choice(pool) for _ in range(rng.randint(0, 3)))
    if not left and not right:
        left = rng.choice(pool)
    return left + core + right


def _ws_padded(rng: random.Random) -> str:
    core = rng.choice(
        [
            _letters,
            _digits,
            _unicode,
            lambda r: "",
            lambda r: _letters(r) + " " + _letters(r),
            lambda r: _digits(r) + " " + _digits(r),
        ]
    )(rng)
    return _pad(rng, core, _ASCII_WS)


def _control_padded(rng: random.Random) -> str:
    return _pad(rng, rng.choice([_letters, _digits])(rng), _CONTROL + [" "])


def _unicode_ws_padded(rng: random.Random) -> str:
    return _pad(rng, rng.choice([_letters, _digits])(rng), _UNICODE_WS_NOT_TRIMMED)


CATEGORIES = {
    # name: (generator, share of the names)
    "ascii_word": (_word, 0.30),
    "digits": (_digits, 0.20),
    "signed_number": (_signed, 0.08),
    "decimal": (_decimal, 0.08),
    "non_ascii_utf8": (_unicode, 0.12),
    "ascii_whitespace_padded": (_ws_padded, 0.12),
    "control_char_padded": (_control_padded, 0.05),
    "unicode_space_padded_not_trimmed": (_unicode_ws_padded, 0.05),
}

FIXED_NAMES = [
    "",
    " ",
    "\t",
    "0",
    "00",
    "-0",
    "+0",
    "1",
    "a",
    "A",
    "Constant",
    "constant",
    "12",
    " 12",
    "12 ",
    "\t12\n",
    "1 2",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "-12",
    "+7",
    "1.5",
    "1e3",
    "١٢",
    "４２",
    "\u00a012",
    "12\u00a0",
    "x y",
    " x ",
    "é",
    "数据",
    "😀",
]

# Seeds used for hash_feature besides the namespace's own hash.  Large seeds make
# int(digits) + seed cross 2**32 (VW wraps modulo 2**32).
EXTRA_SEEDS = [0, 1, 97, 0x7FFFFFFF, 0x80000000, 0xFFFFFF00, 0xFFFFFFFF]


def generate_names(n: int = N_NAMES, seed: int = SEED):
    """``[(category, name)]``: fixed edge cases, then ``n`` random names in total."""
    rng = random.Random(seed)
    out = [("fixed", s) for s in FIXED_NAMES]
    cats = list(CATEGORIES)
    weights = [CATEGORIES[c][1] for c in cats]
    while len(out) < n:
        cat = rng.choices(cats, weights)[0]
        out.append((cat, CATEGORIES[cat][0](rng)))
    return out


# ---------------------------------------------------------------------------------------------
# independent model of VW's hashing (validated against VW in the harness test)
# ---------------------------------------------------------------------------------------------


def model_hash(name: str, seed: int) -> int:
    data = name.encode("utf-8")
    start, end = 0, len(data)
    while start < end and data[start] <= 0x20:
        start += 1
    while end > start and data[end - 1] <= 0x20:
        end -= 1
    core = data[start:end]
    if all(0x30 <= b <= 0x39 for b in core):
        return (int(core or b"0") + seed) & MASK32
    return mmh3.hash(core, seed & MASK32, signed=False)


# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vw_workspace(vw_available):
    from vowpalwabbit import Workspace

    ws = Workspace("--sparse_weights -b 32", quiet=True)
    yield ws
    ws.finish()


@pytest.fixture(scope="module")
def hash_table(vw_workspace):
    """``[(category, name, seed, vw_namespace_hash, vw_feature_hash)]`` computed by VW."""
    names = generate_names()
    rng = random.Random(SEED + 1)
    ns_names = [n for _, n in names[:3000]]
    rows = []
    for cat, name in names:
        ns_hash = vw_workspace.hash_space(name)
        r = rng.random()
        if r < 0.6:
            seed = vw_workspace.hash_space(rng.choice(ns_names))
        elif r < 0.8:
            seed = rng.choice(EXTRA_SEEDS)
        else:
            seed = rng.getrandbits(32)
        rows.append((cat, name, seed, ns_hash, vw_workspace.hash_feature(name, seed)))
    return rows


def _report(mismatches, total, what):
    lines = [f"{len(mismatches)} of {total} {what} differ from VW; first ones:"]
    for m in mismatches[:15]:
        lines.append("  " + m)
    by_cat = {}
    for m in mismatches:
        by_cat[m.split("]")[0] + "]"] = by_cat.get(m.split("]")[0] + "]", 0) + 1
    lines.append(f"  by category: {by_cat}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# tests of wabbit
# ---------------------------------------------------------------------------------------------


def test_hash_namespace_matches_vw(wabbit_module, hash_table):
    bad = []
    for cat, name, _seed, vw_ns, _vw_feat in hash_table:
        got = wabbit_module.hash_namespace(name)
        if got != vw_ns:
            bad.append(f"[{cat}] hash_namespace({name!r}) = {got}, VW: {vw_ns}")
    assert not bad, _report(bad, len(hash_table), "namespace hashes")


def test_hash_feature_matches_vw(wabbit_module, hash_table):
    bad = []
    for cat, name, seed, _vw_ns, vw_feat in hash_table:
        got = wabbit_module.hash_feature(name, seed)
        if got != vw_feat:
            bad.append(f"[{cat}] hash_feature({name!r}, {seed}) = {got}, VW: {vw_feat}")
    assert not bad, _report(bad, len(hash_table), "feature hashes")


def test_hash_feature_of_namespace_hash_chain(wabbit_module, vw_workspace):
    """The way the text parser uses them: feature hashed with its namespace's hash as seed."""
    rng = random.Random(SEED + 2)
    bad = []
    for _ in range(2000):
        ns = rng.choice(["", " ", "a", "bravo", "12", "007", "ns_" + _letters(rng), _unicode(rng)])
        feat = rng.choice([_letters, _digits, _signed, _unicode])(rng)
        got = wabbit_module.hash_feature(feat, wabbit_module.hash_namespace(ns))
        want = vw_workspace.hash_feature(feat, vw_workspace.hash_space(ns))
        if got != want:
            bad.append(f"[chain] ns={ns!r} feature={feat!r}: {got}, VW: {want}")
    assert not bad, _report(bad, 2000, "namespace+feature hashes")


def test_murmur_matches_mmh3(wabbit_module):
    """For non-numeric names without padding the feature hash is plain murmur3_x86_32."""
    rng = random.Random(SEED + 3)
    bad = []
    n = 0
    for cat, name in generate_names(5000, seed=SEED + 4):
        data = name.encode("utf-8")
        if not data or data[0] <= 0x20 or data[-1] <= 0x20 or all(0x30 <= b <= 0x39 for b in data):
            continue
        seed = rng.getrandbits(32)
        n += 1
        want = mmh3.hash(data, seed, signed=False)
        got = wabbit_module.hash_feature(name, seed)
        if got != want:
            bad.append(f"[{cat}] hash_feature({name!r}, {seed}) = {got}, mmh3: {want}")
        if seed % 7 == 0:  # namespaces use seed 0
            want0 = mmh3.hash(data, 0, signed=False)
            got0 = wabbit_module.hash_namespace(name)
            if got0 != want0:
                bad.append(f"[{cat}] hash_namespace({name!r}) = {got0}, mmh3: {want0}")
    assert n > 3000
    assert not bad, _report(bad, n, "murmur hashes")


def test_hash_return_types(wabbit_module):
    assert isinstance(wabbit_module.hash_namespace("a"), int)
    assert isinstance(wabbit_module.hash_feature("x", 0), int)
    assert wabbit_module.hash_namespace("a") == 1009084850
    assert wabbit_module.hash_feature("123", 1009084850) == 1009084973
    assert 0 <= wabbit_module.hash_feature("99999999999999999999", 0xFFFFFFFF) <= MASK32


# ---------------------------------------------------------------------------------------------
# harness self-checks: VW vs the independent model (mmh3 + VW's trimming/digit rule)
# ---------------------------------------------------------------------------------------------


@pytest.mark.harness
def test_harness_vw_hashing_matches_model(hash_table):
    bad = []
    for cat, name, seed, vw_ns, vw_feat in hash_table:
        if model_hash(name, 0) != vw_ns:
            bad.append(f"[{cat}] namespace {name!r}: model {model_hash(name, 0)}, VW {vw_ns}")
        if model_hash(name, seed) != vw_feat:
            bad.append(f"[{cat}] feature {name!r} seed {seed}: model {model_hash(name, seed)}, VW {vw_feat}")
    assert not bad, _report(bad, len(hash_table), "VW hashes vs model")
    cats = {c for c, *_ in hash_table}
    assert cats >= set(CATEGORIES) | {"fixed"}


@pytest.mark.harness
def test_harness_vw_hash_feature_masks(vw_available):
    """pyvw's hash_feature is masked to -b bits; that is why the fixture uses -b 32."""
    from vowpalwabbit import Workspace

    ws = Workspace(quiet=True)  # default -b 18
    try:
        ns = ws.hash_space("a")
        assert ns == mmh3.hash("a", 0, signed=False)  # hash_space is not masked
        assert ws.hash_feature("hello", ns) == mmh3.hash("hello", ns, signed=False) & (2**18 - 1)
    finally:
        ws.finish()


@pytest.mark.harness
def test_harness_vw_known_values(vw_workspace):
    ws = vw_workspace
    ns = ws.hash_space("a")
    assert ns == 1009084850
    assert ws.hash_space(" a\t") == ns  # trimmed
    assert ws.hash_space("12") == 12  # digit rule applies to namespaces too
    assert ws.hash_space("") == 0 and ws.hash_space(" ") == 0
    assert ws.hash_feature("123", ns) == 123 + ns
    assert ws.hash_feature(" 0012 ", ns) == 12 + ns
    assert ws.hash_feature("4294967296", ns) == ns  # wraps modulo 2**32
    assert ws.hash_feature("-12", ns) == mmh3.hash("-12", ns, signed=False)
    assert ws.hash_feature("\u00a012", ns) == mmh3.hash("\u00a012", ns, signed=False)
