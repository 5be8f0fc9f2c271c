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
from wabbit.join import JoinedExample, JoinStats, LabelJoiner, LabelRecord, PredictionRecord
from wabbit.lineage import Lineage
from wabbit.model import Model, load
from wabbit.options import OptionError, Options, parse_args
from wabbit.replay import ReplayBuffer
from wabbit.serve import Client, Server, ServerError, serve
from wabbit.snapshots import Snapshot
from wabbit.store import ModelStore, StoreError
from wabbit.trainer import Trainer

__all__ = [
    "Client",
    "Contribution",
    "DecisionLog",
    "DecisionStats",
    "Event",
    "Gate",
    "GateDecision",
    "GateKeeper",
    "JoinStats",
    "JoinedExample",
    "LabelJoiner",
    "LabelRecord",
    "Lineage",
    "Model",
    "ModelError",
    "ModelStore",
    "OptionError",
    "Options",
    "ParseError",
    "PredictionRecord",
    "ReplayBuffer",
    "Server",
    "ServerError",
    "Shadow",
    "ShadowReport",
    "Snapshot",
    "StoreError",
    "Trainer",
    "WabbitClassifier",
    "WabbitRegressor",
    "__version__",
    "drift",
    "evaluate",
    "gates",
    "hash_feature",
    "hash_namespace",
    "load",
    "ope",
    "parse_args",
    "plot",
    "recommended",
    "serve",
    "stream",
]


# Names that load numpy: imported on first use (the CLI's training path never needs them).
_LAZY: "dict[str, str | None]" = {"drift": None, "evaluate": None, "ope": None, "gates": None, "stream": None}
_LAZY.update({name: "wabbit.gates" for name in ("Gate", "GateDecision", "GateKeeper", "Shadow", "ShadowReport")})
# scikit-learn and matplotlib load only when their names are used (the sklearn and plot extras).
_LAZY.update(
    {
        "recommended": "wabbit.presets",
        "plot": None,
        "WabbitClassifier": "wabbit.sklearn",
        "WabbitRegressor": "wabbit.sklearn",
    }
)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name] or f"wabbit.{name}")
        return module if _LAZY[name] is None else getattr(module, name)
    raise AttributeError(f"module 'wabbit' has no attribute {name!r}")
