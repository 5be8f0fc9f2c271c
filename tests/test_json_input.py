"""VW's JSON example formats (--json, --dsjson) against the installed Vowpal Wabbit.

Generated, seeded streams are run through both programs with the same flags: a linear model on
--json lines that use every construct (nested namespaces, string, number, boolean and array values,
_text, _tag, _label as a number, a string and an object, unknown '_' keys), bandits on --json
_multi events and on decision-service lines (--dsjson: _label_cost, _label_probability,
_label_Action, _labelIndex, a, p, c, lines VW skips). Each test demands VW's predictions (or pmf)
and VW's average loss. Bad input: a malformed line is skipped with a warning naming it (or stops
the run with --strict), and the rest of the stream still gives VW's numbers.
"""

from __future__ import annotations

import json
import math
import random
import shlex

import numpy as np
import pytest

import vwcompare

N = 1500


def linear_lines(n: int, seed: int = 3) -> list:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x = rng.uniform(-1, 1)
        ex: dict = {}
        form = i % 4
        y = round(2 * x + (1 if i % 3 == 0 else -0.5) + rng.uniform(-0.1, 0.1), 4)
        if form == 0:
            ex["_label"] = y
        elif form == 1:
            ex["_label"] = f"{y} {rng.choice([1, 2, 0.5])}"
        elif form == 2:
            ex["_label"] = {"Label": y, "Weight": rng.choice([1, 3]), "Initial": 0.1}
        # form 3: _label_Label (one property)
        else:
            ex["_label_Label"] = y
        ex["u"] = {"x": round(x, 4), "user": f"u {i % 11}", "vip": i % 5 == 0, "gone": False, "n": None}
        ex["a"] = {"ad": f"a{i % 7}", "pos": i % 3, "deep": {"k": round(rng.uniform(0, 1), 3)}}
        ex["v"] = [round(rng.uniform(-1, 1), 3), 0, 1.5] if i % 2 else [1, None, 2]
        ex["price"] = round(rng.uniform(0, 5), 2)
        ex["_text"] = "w1 w2:x " + ("hot|cold" if i % 2 else "mild")
        if i % 6 == 0:
            ex["_tag"] = f"t{i}"
        if i % 7 == 0:
            ex["_unknown"] = {"skipped": [1, {"x": "y"}], "z": "w"}  # VW skips '_' keys it does not know
        out.append(json.dumps(ex))
    return out


def adf_event(rng: random.Random, i: int, actions: int = 6, form: str = "json") -> tuple:
    user = rng.randrange(20)
    shared = {"u": {"age": f"a{user % 4}", "x": round(rng.uniform(-1, 1), 3)}, "user": f"u{user}"}
    acts = [{"i": {"id": f"a{a}", "price": round(0.5 + 0.1 * a, 2)}, "k": [a % 3, 1]} for a in range(actions)]
    best = (user * 7 + 3) % actions
    chosen = best if rng.random() < 0.6 else rng.randrange(actions)
    p = 0.6 + 0.4 / actions if chosen == best else 0.4 / actions
    cost = 0.0 if chosen == best and rng.random() < 0.9 else 1.0
    p = round(p, 6)
    return shared, acts, chosen, cost, p


def json_adf_lines(n: int, seed: int = 5) -> list:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        shared, acts, chosen, cost, p = adf_event(rng, i)
        if i % 30 != 29:  # some events unlabelled
            if i % 2:
                acts[chosen]["_label"] = {"Action": chosen + 1, "Cost": cost, "Probability": p}
            else:
                acts[chosen]["_label"] = f"{chosen + 1}:{cost}:{p}"
        out.append(json.dumps({**shared, "_multi": acts}))
    return out


def dsjson_lines(n: int, seed: int = 7, skips: bool = True) -> list:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        shared, acts, chosen, cost, p = adf_event(rng, i)
        order = [chosen + 1] + [a + 1 for a in range(len(acts)) if a != chosen]
        probs = [p] + [round((1 - p) / (len(acts) - 1), 6)] * (len(acts) - 1)
        line = {
            "_label_cost": cost,
            "_label_probability": p,
            "_label_Action": chosen + 1,
            "_labelIndex": chosen,
            "o": [{"v": {"r": 1}, "EventId": f"e{i}", "ActionTaken": False}],
            "Timestamp": f"2026-01-01T00:00:{i % 60:02d}.000Z",
            "Version": "1",
            "EventId": f"e{i}",
            "a": order,
            "c": {**shared, "_multi": acts},
            "p": probs,
            "VWState": {"m": "model/1"},
        }
        if skips and i % 50 == 49:
            line["a"] = []  # VW skips an event without logged actions
        if skips and i % 50 == 48:
            line["_skipLearn"] = True
        out.append(json.dumps(line))
    return out


def parse_cb_pred(text: str) -> list:
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        head = line.split()[0]
        if ":" in head:
            out.append(sorted((int(a), float(p)) for a, p in (item.split(":") for item in head.split(","))))
        else:
            out.append([(int(head), 1.0)])
    return out


def run_both(tmp_path, flags: str, lines: list, run_wabbit, run_vw, name: str = "data.json"):
    data = tmp_path / name
    data.write_text("\n".join(lines) + "\n")
    results = {}
    for who, runner in (("wabbit", run_wabbit), ("vw", run_vw)):
        d = tmp_path / who
        d.mkdir()
        proc = runner(shlex.split(flags) + ["-d", str(data), "-p", "p.txt"], d)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        results[who] = (proc.stderr, (d / "p.txt").read_text())
    return results


def assert_same_loss(results) -> None:
    s_w, s_v = vwcompare.summary(results["wabbit"][0]), vwcompare.summary(results["vw"][0])
    assert s_w["number of examples"] == s_v["number of examples"]
    lw, lv = float(s_w["average loss"]), float(s_v["average loss"])
    assert math.isclose(lw, lv, rel_tol=1e-4, abs_tol=1e-6), f"average loss {lw} vs VW {lv}"
    assert s_w["total feature number"] == s_v["total feature number"]


def assert_same_pmfs(results) -> None:
    ours, theirs = parse_cb_pred(results["wabbit"][1]), parse_cb_pred(results["vw"][1])
    assert len(ours) == len(theirs) > 0
    for k, (o, t) in enumerate(zip(ours, theirs)):
        assert [a for a, _ in o] == [a for a, _ in t], f"event {k}: actions {o} vs VW {t}"
        assert np.allclose([p for _, p in o], [p for _, p in t], atol=1e-4), f"event {k}: {o} vs VW {t}"


# ---------------------------------------------------------------- --json, a linear model


@pytest.mark.parametrize("flags", ["--json", "--json -q ua --power_t 0.3", "--json --chain_hash --adaptive"])
def test_json_linear_matches_vw(flags, tmp_path, run_wabbit, run_vw):
    results = run_both(tmp_path, flags, linear_lines(N), run_wabbit, run_vw)
    ours = [line.split() for line in results["wabbit"][1].splitlines()]
    theirs = [line.split() for line in results["vw"][1].splitlines()]
    assert len(ours) == len(theirs) == N
    for k, (o, t) in enumerate(zip(ours, theirs)):
        assert vwcompare.floats_close(float(o[0]), float(t[0])), f"line {k + 1}: {o} vs VW {t}"
        assert o[1:] == t[1:], f"line {k + 1}: tag {o[1:]} vs VW {t[1:]}"  # _tag
    assert_same_loss(results)


def test_json_audit_names_and_indices_match_vw(tmp_path, run_wabbit, run_vw):
    """The hashes themselves: --audit lists each feature's name, index and value as VW does."""
    lines = linear_lines(40)
    outs = {}
    data = tmp_path / "a.json"
    data.write_text("\n".join(lines) + "\n")
    for who, runner in (("wabbit", run_wabbit), ("vw", run_vw)):
        proc = runner(["--json", "--audit", "-d", str(data), "--quiet"], tmp_path)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        outs[who] = [
            sorted(tok.rsplit(":", 2)[0] for tok in line.split())  # name:index:value (weight@... dropped)
            for line in proc.stdout.splitlines()
            if line.startswith("\t")
        ]
    assert len(outs["wabbit"]) == len(outs["vw"]) == 40
    assert outs["wabbit"] == outs["vw"]


# ---------------------------------------------------------------- bandits


@pytest.mark.parametrize(
    "flags", ["--json --cb_adf -q ui", "--json --cb_explore_adf -q ui --epsilon 0.1", "--json --cb_adf --rank_all"]
)
def test_json_multi_events_match_vw(flags, tmp_path, run_wabbit, run_vw):
    results = run_both(tmp_path, flags, json_adf_lines(600), run_wabbit, run_vw)
    assert_same_pmfs(results)
    assert_same_loss(results)


@pytest.mark.parametrize(
    "flags",
    [
        "--dsjson --cb_explore_adf -q ui",
        "--dsjson --cb_explore_adf -q ui --epsilon 0.2 --cb_type ips",
        "--dsjson --cb_explore_adf --softmax --lambda 5 -q ui",
        "--dsjson --cb_adf -q ui --cb_type dr",
    ],
)
def test_dsjson_matches_vw(flags, tmp_path, run_wabbit, run_vw):
    results = run_both(tmp_path, flags, dsjson_lines(600), run_wabbit, run_vw, "log.dsjson")
    assert_same_pmfs(results)
    assert_same_loss(results)


def test_dsjson_label_after_context_is_ignored_as_in_vw(tmp_path, run_wabbit, run_vw):
    """VW applies _label_* and _labelIndex when "c" ends: given after it, they label nothing."""
    lines = []
    for raw in dsjson_lines(200, seed=9, skips=False):
        d = json.loads(raw)
        if len(lines) % 3 == 0:
            c = d.pop("c")
            d = (
                {k: v for k, v in d.items() if not k.startswith("_label")}
                | {"c": c}
                | {k: v for k, v in d.items() if k.startswith("_label")}
            )
        lines.append(json.dumps(d))
    results = run_both(tmp_path, "--dsjson --cb_explore_adf -q ui", lines, run_wabbit, run_vw, "log.dsjson")
    assert_same_pmfs(results)
    assert_same_loss(results)


def test_python_model_reads_json(tmp_path):
    """Model("--json") takes JSON lines in learn/predict/learn_many, as the CLI reads them."""
    import wabbit

    lines = linear_lines(300)
    a = wabbit.Model("--json")
    many = a.learn_many(lines)
    b = wabbit.Model("--json")
    single = np.array([b.learn(line) for line in lines], dtype=np.float32)
    assert np.array_equal(many, single)
    assert a.predict(lines[5]) == b.predict(lines[5])
    # the same content as VW text gives the same model (hashes: key+value for strings, namespaces)
    c = wabbit.Model()
    d = wabbit.Model("--json")
    for i in range(50):
        c.learn(f"{i % 2} |u user=u{i % 5} price:{i % 3} |a b")
        d.learn(json.dumps({"_label": i % 2, "u": {"user=": f"u{i % 5}", "price": i % 3}, "a": {"b": True}}))
    assert c.predict("|u user=u1 price:2 |a b") == d.predict('{"u": {"user=": "u1", "price": 2}, "a": {"b": true}}')

    m = wabbit.Model("--cb_explore_adf --dsjson -q ui")
    ds = dsjson_lines(100, skips=False)
    for line in ds:
        m.learn(line)
    pmf = m.predict(ds[0])
    assert pmf.shape == (6,) and abs(float(pmf.sum()) - 1) < 1e-5


# ---------------------------------------------------------------- bad input

BAD = [
    ('{"_label": 1, "a": {"x": 1', "not valid JSON"),  # truncated
    ('{"_label": true, "a": {"x": 1}}', "unexpected true"),  # a label is not a boolean
    ('{"_label": 1, "a": ["u", "v"]}', "holds numbers"),  # strings in a feature array
    ('{"_label": 1, "_tag": 5}', "unexpected number"),
    ('{"_label": 1, "a": {"x": 1e39}}', "not a finite number"),
    ('{"_label": 1, "_labelFoo": 2}', "unsupported key"),
    ('{"_label": {"Label": 1, "Colour": 2}}', "unsupported label property"),
    ('{"_label": 1, "_multi": [{"a": 1}]}', "_multi"),
    ("[1, 2]", "not an array"),
    ('{"_label": 1} trailing', "not valid JSON"),
]


@pytest.mark.parametrize("line,why", BAD)
def test_bad_json_line_is_refused_by_name(line, why):
    import wabbit

    m = wabbit.Model("--json")
    with pytest.raises(ValueError, match=why):
        m.learn(line)
    with pytest.raises(ValueError, match=f"line 2: .*{why}"):
        m.learn_many(['{"_label": 1, "a": {"x": 1}}', line])


def test_bad_lines_skipped_with_warning_or_stop_with_strict(tmp_path, run_wabbit):
    good = linear_lines(20)
    lines = good[:5] + [bad for bad, _ in BAD] + good[5:]
    data = tmp_path / "mixed.json"
    data.write_text("\n".join(lines) + "\n")
    proc = run_wabbit(["--json", "-d", str(data), "-p", "p.txt"], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    for k in range(len(BAD)):
        assert f"line {6 + k}:" in proc.stderr
    assert vwcompare.summary(proc.stderr)["number of examples"] == "20"
    # the good lines alone give the same predictions
    clean = tmp_path / "clean.json"
    clean.write_text("\n".join(good) + "\n")
    (tmp_path / "c").mkdir()
    proc2 = run_wabbit(["--json", "-d", str(clean), "-p", "p.txt"], tmp_path / "c")
    mixed = [x for x in (tmp_path / "p.txt").read_text().split("\n") if x and not x.startswith("nan")]
    assert mixed == [x for x in (tmp_path / "c" / "p.txt").read_text().split("\n") if x]
    assert proc2.returncode == 0
    strict = run_wabbit(["--json", "--strict_parse", "-d", str(data)], tmp_path)
    assert strict.returncode == 1
    assert "line 6:" in strict.stderr and "not valid JSON" in strict.stderr


def test_dsjson_bad_lines_skipped_as_vw_skips_them(tmp_path, run_wabbit, run_vw):
    """VW skips a malformed decision-service line (with an error message) and goes on; so do we, and
    the other events give VW's pmf."""
    lines = dsjson_lines(200, seed=11)
    lines.insert(10, lines[10][: len(lines[10]) // 2])  # cut in half
    lines.insert(20, lines[20].replace('"_labelIndex": ', '"_labelIndex": -'))  # a negative index
    lines.insert(30, lines[30].replace('"a": [', '"a": ["x", '))  # a string among the actions
    results = run_both(tmp_path, "--dsjson --cb_explore_adf -q ui", lines, run_wabbit, run_vw, "log.dsjson")
    ours = [p for p in parse_cb_pred(results["wabbit"][1].replace("nan\n", ""))]
    theirs = parse_cb_pred(results["vw"][1])
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert [a for a, _ in o] == [a for a, _ in t]
        assert np.allclose([p for _, p in o], [p for _, p in t], atol=1e-4)
    assert "line 11:" in results["wabbit"][0] and "line 21:" in results["wabbit"][0]


def test_bandit_json_errors_name_the_problem():
    import wabbit

    m = wabbit.Model("--cb_explore_adf --dsjson")
    base = json.loads(dsjson_lines(1, skips=False)[0])
    with pytest.raises(ValueError, match="_labelIndex 9 is not an action"):
        m.learn(json.dumps(base | {"_labelIndex": 9}))
    no_index = {k: v for k, v in base.items() if k != "_labelIndex"}
    with pytest.raises(ValueError, match="shared context"):  # VW: "only one cost can be known"
        m.learn(json.dumps(no_index))
    with pytest.raises(ValueError, match="outside"):
        m.learn(json.dumps(base | {"_label_probability": 0}))
    with pytest.raises(ValueError, match="not supported"):
        m.learn(json.dumps(base | {"pdrop": 0.5}))
    j = wabbit.Model("--cb_adf --json")
    with pytest.raises(ValueError, match="_multi"):
        j.learn('{"u": {"a": 1}}')
    with pytest.raises(ValueError, match="second labelled action"):
        j.learn(json.dumps({"_multi": [{"_label": "1:1:0.5", "a": 1}, {"_label": "2:0:0.5", "a": 2}]}))
    with pytest.raises(ValueError, match="Nested|nested"):
        j.learn(json.dumps({"_multi": [{"_multi": [{"a": 1}]}]}))


# ---------------------------------------------------------------- the daemon


@pytest.mark.parametrize(
    "flags,lines",
    [
        ("--json -q ua", lambda: linear_lines(300)),
        ("--dsjson --cb_explore_adf -q ui", lambda: dsjson_lines(200, skips=False)),
        ("--json --cb_adf -q ui", lambda: json_adf_lines(200)),
    ],
)
def test_daemon_answers_json_lines_as_the_cli_predicts(flags, lines, tmp_path):
    """A model made with --json/--dsjson serves JSON requests, one line each (a bandit's too), and
    answers what `wabbit FLAGS -d FILE -p` writes (which the tests above hold to VW's numbers)."""
    import wabbit
    from servekit import exchange, predictions_of
    from wabbit.serve import serve

    data = lines()
    expected = predictions_of(shlex.split(flags), tmp_path, data)
    with serve(wabbit.Model(flags), port=0, threads=1) as server:
        got = exchange(server.port, "".join(line + "\n" for line in data))
    assert got == expected
    with serve(wabbit.Model(flags), port=0, threads=1) as server:  # a bad line: an error reply naming it
        reply = exchange(server.port, data[0] + "\n" + data[0][:-3] + "\n")
    assert "line 2:" in reply and "not valid JSON" in reply
