"""A random-mutation run of the model loader (issue 14, item 15 and the acceptance list), and
"whatever save writes, load reads" (item 2's second invariant).

The loader used to answer mutated files that carry a valid checksum with ``AttributeError``,
``RecursionError``, ``OverflowError``, ``KeyError('counter')``, ``UnicodeDecodeError`` or
``MemoryError``. Here 10,000 mutated files (tests/model_mutations.py: byte flips, truncations,
insertions, header fields replaced by huge/negative/float/string/null/nested values, deep
nesting, deleted keys, odd option strings; checksums recomputed) go through ``Model.from_bytes``
and, every tenth, ``wabbit.load`` on a file, and every fiftieth ``wabbit inspect``. Each must load
or raise ``wabbit.ModelError`` with a one-line message; a model that loads must predict, and what
it saves must load back (a linear one also learns and saves again).

The run happens in a child interpreter, so a crash is reported as a failure, with a time limit.
It is seeded (WABBIT_FUZZ_SEED replays another seed) and takes about 10 s.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

wabbit = pytest.importorskip("wabbit")

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = int(os.environ.get("WABBIT_FUZZ_SEED", "20261202"))
CASES = 10_000

_CHILD = textwrap.dedent(
    r"""
    import collections, contextlib, io, json, os, random, sys, warnings
    sys.path.insert(0, sys.argv[1])
    import wabbit
    from wabbit import cli
    from model_mutations import base_models, mutate, use

    tmp, seed, cases = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    warnings.simplefilter("ignore")
    bases = base_models(tmp)
    names = sorted(bases)
    rng = random.Random(seed)
    bad = collections.Counter()
    first = {}
    tally = collections.Counter()
    path = os.path.join(tmp, "m.model")

    def report(key, i, data):
        bad[key] += 1
        if key not in first:
            first[key] = i
            with open(os.path.join(tmp, f"case{i}.model"), "wb") as f:
                f.write(data)

    for i in range(cases):
        name = names[i % len(names)]
        kind, data = mutate(rng, bases[name])
        try:
            if i % 10 == 0:
                with open(path, "wb") as f:
                    f.write(data)
                model = wabbit.load(path)
            else:
                model = wabbit.Model.from_bytes(data)
        except wabbit.ModelError as e:
            tally["refused"] += 1
            if "\n" in str(e).strip() or not str(e):
                report((name, kind, "unclear ModelError", str(e)[:200]), i, data)
        except BaseException as e:
            report((name, kind, type(e).__name__, str(e)[:200]), i, data)
        else:
            tally["loaded"] += 1
            try:
                use(model)
            except BaseException as e:
                report((name, kind, "after loading: " + type(e).__name__, str(e)[:200]), i, data)
        if i % 50 == 0:
            with open(path, "wb") as f:
                f.write(data)
            for args in (["inspect", path], ["inspect", "--json", path]):
                try:
                    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                        rc = cli.main(args)
                    tally["inspect rc %d" % rc] += 1
                except BaseException as e:
                    report((name, kind, "inspect: " + type(e).__name__, str(e)[:200]), i, data)
    print(json.dumps({"tally": tally, "bad": [[list(k), n, first[k]] for k, n in bad.most_common()]}))
    """
)


def test_mutated_model_files_load_or_raise_model_error(tmp_path):
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, HERE, str(tmp_path), str(SEED), str(CASES)],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the mutation run did not finish in 600 s (a load hung?)")
    assert proc.returncode == 0, (
        f"the interpreter died in the mutation run (exit {proc.returncode}; seed {SEED})\n{proc.stderr[-3000:]}"
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    tally, bad = result["tally"], result["bad"]
    assert tally["loaded"] + tally["refused"] == CASES
    # the mutations reach past the checksum: many files load, many are refused for their contents
    assert tally["loaded"] > CASES // 10 and tally["refused"] > CASES // 10, tally
    shown = "\n".join(f"  {n} x {k} (first: case {i}, kept in {tmp_path})" for k, n, i in bad[:20])
    assert not bad, f"{sum(n for _, n, _ in bad)} of {CASES} mutated files (seed {SEED}) went wrong:\n{shown}"


# --------------------------------------------------------------------------------------------
# whatever save writes, load reads
# --------------------------------------------------------------------------------------------

ODD_BUT_VALID = [
    ("--min_prediction 5", "1 |a x"),  # VW's clamp: min above max is allowed (VW predicts 5)
    ("--min_prediction -3.4e38 --max_prediction -1e-30", "1e30 |a x"),
    ("--loss_function quantile --quantile_tau 0.999 -l 1e30", "3e38 |a x:3e38"),
    ("--reward_ttl inf --max_pending 1 --cb_explore_adf", None),
    ("--l2 0.9 --sgd -l 100", "1 |a x:1e10"),
    ("--interactions aaaa -b 2 --noconstant", "1 |a x y z"),
    ("--ftrl --ftrl_alpha 1e30 --ftrl_beta 0", "1e20 |a x:1e19"),
    ("--cb 65536 -b 3", None),
    ("--random_seed -5 --cb_explore_adf --first 18446744073709551615", None),
    ("--random_seed 99999999999999999999999 --cb_explore_adf --bag 65536 --cb_type dr", None),
]


def test_what_save_writes_load_reads(tmp_path):
    """Odd but valid options, extreme examples and metadata: the file saved loads and saves the
    very same bytes again. An example whose update would leave a number that is not finite is
    refused by the learner (issue 14 item 2), so every save succeeds and loads back."""
    for k, (flags, line) in enumerate(ODD_BUT_VALID):
        folder = tmp_path / str(k)
        folder.mkdir()
        save_and_reload(folder, flags, line)


def save_and_reload(tmp_path, flags, line):
    m = wabbit.Model(flags)
    if line is not None:
        for _ in range(3):
            try:
                m.learn(line)
            except ValueError as e:  # refused, and nothing changed
                assert "would make weights non-finite" in str(e), (flags, e)
    m.metadata["nested"] = json.loads("[" * 98 + "]" * 98)  # the deepest metadata that is kept
    m.metadata["text"] = "\u00e9 \udcff \x00 [[[ {{{"
    m.metadata["numbers"] = [float("nan"), float("inf"), -0.0, 10**300, -(2**70)]
    path = tmp_path / "m.model"
    m.save(path)
    for loaded in (wabbit.load(path), wabbit.Model.from_bytes(m.to_bytes()), pickle.loads(pickle.dumps(m))):
        assert loaded.args == m.args, flags
        assert loaded.to_bytes() == path.read_bytes(), flags  # the very bytes: nothing lost or changed
        if line is not None:
            assert loaded.predict(line) == m.predict(line) or loaded.predict(line) != loaded.predict(line)


def test_infinite_or_nan_options_are_refused_where_they_would_not_load_back():
    for flags in ("--min_prediction -inf", "--max_prediction nan", "-l 1e39", "--l2 inf", "--pa --pa_c nan"):
        with pytest.raises(wabbit.OptionError, match="must be a (finite )?number"):
            wabbit.Model(flags)
    with pytest.raises(wabbit.OptionError, match="--bag takes at most 65536"):
        wabbit.Model("--cb_explore_adf --bag 4294967296")


@pytest.mark.parametrize(
    "value,error",
    [
        (json.loads("[" * 200 + "]" * 200), "nests more than 100 levels"),
        (10**5000, "cannot be saved"),
        (object(), "cannot be saved as JSON"),
    ],
    ids=["deep", "long_int", "object"],
)
def test_metadata_that_would_not_load_back_is_refused_by_save(tmp_path, value, error):
    m = wabbit.Model("-b 4")
    m.learn("1 |a x")
    path = tmp_path / "m.model"
    m.save(path)
    good = path.read_bytes()
    m.metadata["bad"] = value
    with pytest.raises((ValueError, TypeError), match=error):
        m.save(path)
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["m.model"]
    del m.metadata["bad"]
    m.save(path)
