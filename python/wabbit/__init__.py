"""wabbit: online learning for data streams, with Vowpal Wabbit's formats, hashes and numbers.

>>> import wabbit
>>> m = wabbit.Model("--loss_function logistic")
>>> _ = m.learn("1 |f a b")
>>> 0 < m.predict("|f a b")
True
>>> wabbit.hash_feature("a", wabbit.hash_namespace("f")) == wabbit.hash_feature("a", 728008763)
True
"""

from wabbit._core import ModelError, ParseError, hash_feature, hash_namespace
from wabbit._version import __version__
from wabbit.decisions import DecisionLog, DecisionStats
from wabbit.explain import Contribution
from wabbit.inputs import Event
from wabbit.lineage import Lineage
from wabbit.model import Model, load
from wabbit.options import OptionError, Options, parse_args
from wabbit.serve import Client, Server, ServerError, serve
from wabbit.snapshots import Snapshot
from wabbit.store import ModelStore, StoreError

__all__ = [
    "Client",
    "Contribution",
    "DecisionLog",
    "DecisionStats",
    "Event",
    "Lineage",
    "Model",
    "ModelError",
    "ModelStore",
    "OptionError",
    "Options",
    "ParseError",
    "Server",
    "ServerError",
    "Snapshot",
    "StoreError",
    "__version__",
    "drift",
    "evaluate",
    "hash_feature",
    "hash_namespace",
    "load",
    "ope",
    "parse_args",
    "serve",
]


def __getattr__(name):
    # wabbit.drift, wabbit.evaluate and wabbit.ope use numpy; they load on first use (the CLI's
    # training path never needs them).
    if name in ("drift", "evaluate", "ope"):
        import importlib

        return importlib.import_module(f"wabbit.{name}")
    raise AttributeError(f"module 'wabbit' has no attribute {name!r}")
