"""python/wabbit/_core.pyi, the compiled core's type stubs, names what the built module has: every
function, class, method and property, and the parameter names a caller may pass by keyword."""

import ast
import inspect
import re
from pathlib import Path

import pytest

import wabbit._core as core

STUB = Path(__file__).resolve().parent.parent / "python" / "wabbit" / "_core.pyi"
# in the stub for the type checker only: helpers that the built module does not have
STUB_ONLY = {"drift._Detector", "drift._WarningDetector", "SerializedModel.__buffer__", "drift._Detector.__getattr__"}


def _stub():
    tree = ast.parse(STUB.read_text())
    defs = {}

    def walk(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                defs.setdefault(prefix + node.name, node)
            elif isinstance(node, ast.ClassDef):
                defs[prefix + node.name] = node
                walk(node.body, prefix + node.name + ".")
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                defs[prefix + node.target.id] = node

    walk(tree.body, "")
    return defs


def _runtime():
    names = {}

    def members(obj, prefix):
        for name, value in vars(obj).items():
            if name.startswith("__") and name not in ("__init__", "__len__"):
                continue
            if name == "_pybind11_conduit_v1_" or (name == "__init__" and type(value).__name__ == "wrapper_descriptor"):
                continue  # (a class the core builds, with no constructor from Python)
            names[prefix + name] = value

    for name in dir(core):
        if name.startswith("__"):
            continue
        value = getattr(core, name)
        names[name] = value
        if inspect.isclass(value) and value.__module__.startswith("wabbit._core"):
            members(value, name + ".")
    for name in dir(core.drift):
        if not name.startswith("__"):
            names["drift." + name] = getattr(core.drift, name)
            members(getattr(core.drift, name), f"drift.{name}.")
    return names


def _inherited(stub, name):
    """A stub class member declared on a helper base (drift._Detector, drift._WarningDetector)."""
    cls, _, member = name.rpartition(".")
    node = stub.get(cls)
    while isinstance(node, ast.ClassDef) and node.bases:
        base = node.bases[0]
        base_name = (cls.rpartition(".")[0] + "." if "." in cls else "") + ast.unparse(base)
        if base_name + "." + member in stub:
            return True
        node, cls = stub.get(base_name), base_name
    return False


def test_every_name_of_the_built_module_is_in_the_stubs():
    stub, runtime = _stub(), _runtime()
    missing = sorted(n for n in runtime if n not in stub and not _inherited(stub, n))
    assert not missing, f"in wabbit._core but not in _core.pyi: {missing}"


def test_the_stubs_name_nothing_the_module_lacks():
    stub, runtime = _stub(), _runtime()
    helpers = tuple(h + "." for h in STUB_ONLY)
    extra = sorted(n for n in stub if n not in runtime and n not in STUB_ONLY and not n.startswith(helpers))
    assert not extra, f"in _core.pyi but not in wabbit._core: {extra}"


def _keyword_names(doc_line):
    """The parameter names pybind11's signature line gives (argN: positional only)."""
    inside = doc_line[doc_line.index("(") + 1 : doc_line.rindex(")")]
    names = re.findall(r"(?:^|,\s*)(\w+):", inside)
    return [n for n in names if n != "self" and not re.fullmatch(r"arg\d+", n)]


def test_keyword_parameter_names_match():
    stub, runtime = _stub(), _runtime()
    checked = 0
    for name, value in runtime.items():
        doc = (getattr(value, "__doc__", None) or "").strip().splitlines()
        node = stub.get(name)
        if (
            not doc
            or not isinstance(node, ast.FunctionDef)
            or "(" not in doc[0]
            or "self: wabbit" in doc[0]
            and "->" not in doc[0]
        ):
            continue
        if not doc[0].startswith(name.rpartition(".")[2] + "("):
            continue
        wanted = _keyword_names(doc[0])
        args = node.args
        declared = [a.arg for a in args.args + args.kwonlyargs if a.arg != "self"]
        assert declared[-len(wanted) :] == wanted if wanted else True, f"{name}: stub {declared}, module {wanted}"
        checked += 1
    assert checked > 40, f"only {checked} signatures compared"


@pytest.mark.parametrize("name", ["Model.run_csr", "Model.stats", "hash_feature", "drift.ADWIN.update_many"])
def test_the_main_calls_are_typed(name):
    node = _stub()[name]
    assert isinstance(node, ast.FunctionDef) and node.returns is not None and ast.unparse(node.returns) != "Any"
