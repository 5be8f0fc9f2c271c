"""The in-process handle of the serving engine: :func:`serve` starts it, :class:`Server` runs it.

The engine itself is C++ (``cpp/serve/``, bound as ``wabbit._core.Server``): the accept loop, the
worker threads and the line protocol run without the GIL. This module builds it from a
:class:`wabbit.Model` (the file header's args and metadata, so that every save the server makes is
a normal model file), and adds what lives in Python: the HTTP/JSON face and ``/metrics``
(:mod:`wabbit.serve.http`), following a :class:`wabbit.ModelStore` (:mod:`wabbit.serve.watch`) and
rollback.

>>> import wabbit
>>> from wabbit.serve import Client, serve
>>> model = wabbit.Model()
>>> _ = model.learn("1 |f a")
>>> with serve(model, port=0, threads=1) as server, Client(port=server.port) as client:
...     client.predict("|f a") == round(model.predict("|f a"), 6)   # as -p writes it
True
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Union

import wabbit._core as _core
from wabbit import persistence
from wabbit._version import __version__
from wabbit.model import Model
from wabbit.options import FLAGS
from wabbit.run_settings import cpu_cores
from wabbit.serve.prediction_log import QUEUE_LINES as prediction_log_lines
from wabbit.serve.prediction_log import PredictionPump, open_target

if TYPE_CHECKING:
    from wabbit.serve.http import HttpService
    from wabbit.serve.watch import Watcher
    from wabbit.store import ModelStore

__all__ = ["Server", "serve", "RollbackError", "DEFAULT_PORT"]

#: VW's daemon port.
DEFAULT_PORT = 26542

PathLike = Union[str, "os.PathLike[str]"]


class RollbackError(LookupError):
    """There is no earlier version to roll back to."""


class _Version:
    """A served version kept for rollback: a copy of the model and what the server says of it."""

    def __init__(self, core: Any, version: str, described: Tuple[Any, ...]) -> None:
        self.core = core
        self.version = version
        self.described = described  # args, metadata, lineage, options, bandit, explores


def _model_options(model: Model) -> Dict[str, Any]:
    """The model-defining flags given to ``model``, by their long names."""
    opts = model.options
    return {f.names[-1].lstrip("-"): getattr(opts, f.dest) for f in FLAGS if f.model and opts.given(f.dest)}


def _description(model: Model) -> Tuple[Any, ...]:
    """What the server keeps of a model it serves: the file header's args and metadata, the
    lineage, the flags, whether it is a bandit and whether it explores."""
    if model.core.is_mc():  # the engine answers with the linear learner or a bandit only
        raise TypeError("serving --oaa/--csoaa models is not supported yet")
    explores = bool(model.options.cb_explore_adf or model.options.cb_explore is not None)
    return (
        model.args,
        persistence.metadata_json(model),
        model.lineage.to_dict(),
        _model_options(model),
        model.is_bandit,
        explores,
    )


class Server:
    """A running server (made by :func:`serve`): the line protocol on :attr:`port`, HTTP on
    :attr:`http_port` when asked for. Stop it with :meth:`stop` or a ``with`` block.

    The served model is the engine's own copy: the :class:`wabbit.Model` given to :func:`serve`
    is not touched afterwards. :meth:`save` writes the served model; :meth:`swap` replaces it."""

    def __init__(self, model: Model, engine_options: Dict[str, Any], *, learn: bool) -> None:
        self._lock = threading.RLock()  # swaps and rollbacks, one at a time
        self._describe(_description(model))
        self._learn = learn
        self._engine_options = dict(engine_options)
        self._previous: Optional[_Version] = None
        self._keep_previous = True
        self._store: Optional["ModelStore"] = None
        self._http: Optional["HttpService"] = None
        self._watcher: Optional["Watcher"] = None
        self._pump: Optional[PredictionPump] = None
        self._candidate: Optional[Tuple[Any, ...]] = None  # the canary's description (see _description)
        self._canary_watcher: Optional["Watcher"] = None
        self._stopped = False
        self._engine: Any = _core.Server(model.core, self._engine_options, __version__, self._args, self._metadata)

    def _describe(self, described: Tuple[Any, ...]) -> None:
        self._args, self._metadata, self._lineage, self._options, self._bandit, self._explores = described

    def _described(self) -> Tuple[Any, ...]:
        return (self._args, self._metadata, self._lineage, self._options, self._bandit, self._explores)

    # ------------------------------------------------------------------ what it serves
    @property
    def port(self) -> int:
        """The line protocol's bound port."""
        return int(self._engine.port)

    @property
    def http_port(self) -> Optional[int]:
        """The HTTP port (None without HTTP)."""
        return None if self._http is None else self._http.port

    @property
    def listen(self) -> str:
        """The address both ports are bound to."""
        return str(self._engine_options.get("listen", "127.0.0.1"))

    @property
    def version(self) -> str:
        """The served version id: "" for the starting model, a store's version number when following
        a store, "p1", "p2", ... as publish mode publishes."""
        return str(self._engine.version)

    @property
    def running(self) -> bool:
        return bool(self._engine.running)

    @property
    def is_bandit(self) -> bool:
        """Whether the served model is a contextual bandit (events, :meth:`rank`)."""
        return self._bandit

    @property
    def explores(self) -> bool:
        """Whether the served bandit model explores (its pmf is the exploration's, not greedy)."""
        return self._explores

    @property
    def learning(self) -> bool:
        """False for a predict-only server (-t)."""
        return self._learn

    @property
    def publish_mode(self) -> bool:
        """Whether learning goes to a private copy published every N examples or S seconds."""
        return bool(self._engine_options.get("publish_every", 0) or self._engine_options.get("publish_seconds", 0.0))

    @property
    def store(self) -> Optional["ModelStore"]:
        """The store this server follows (``watch=``), or None."""
        return self._store

    @property
    def engine(self) -> Any:
        """The engine (``wabbit._core.Server``): ``request``, ``predict_dict``, ``learn_dict``,
        ``rank``, as docs/serving.md describes."""
        return self._engine

    def stats(self) -> Dict[str, Any]:
        """The engine's counters (what ``/metrics`` shows): requests by kind and outcome, latency
        buckets, examples learned, losses, version, connections; see docs/serving.md."""
        return dict(self._engine.stats())

    def info(self) -> Dict[str, Any]:
        """What ``GET /model`` answers: the version, the model's flags and lineage, the mode."""
        with self._lock:
            return {
                "version": self.version,
                "args": self._args,
                "options": dict(self._options),
                "lineage": self._lineage,
                "bandit": self._bandit,
                "learning": self._learn,
                "mode": "publish" if self.publish_mode else "in-place",
                "following": None if self._store is None else self._store.directory,
                "can_roll_back": self._store is not None or self._previous is not None,
            }

    # ------------------------------------------------------------------ changing it
    def save(self, path: Optional[PathLike] = None) -> str:
        """Save the served model atomically to ``path`` (default: ``save_path``); returns the path.
        Saves are serialised; the file is a normal model file (``wabbit.load``, ``-i``)."""
        target = "" if path is None else os.fspath(path)
        if not target and not self._engine_options.get("save_path"):
            raise ValueError("no path to save to: pass one, or start the server with save_path= (-f)")
        return str(self._engine.save(target))

    def swap(self, model: Model, version: str = "") -> None:
        """Serve a copy of ``model`` from now on, under the id ``version``; requests in flight
        finish on the version they started with. The version served before is kept for
        :meth:`rollback` (unless the server follows a store, whose versions it rolls back to)."""
        if not isinstance(model, Model):
            raise TypeError(f"swap() takes a wabbit.Model, not {type(model).__name__}")
        with self._lock:
            previous = None
            if self._keep_previous and self._store is None:
                previous = _Version(self._engine.snapshot(), self.version, self._described())
            described = _description(model)
            self._engine.swap(model.core, str(version), described[0], described[1])  # ValueError: another kind
            self._describe(described)
            if previous is not None:
                self._previous = previous

    def set_candidate(self, model: Model, version: str = "", fraction: float = 0.05) -> None:
        """Canary: answer a share ``fraction`` (0..1] of the unlabelled requests with a copy of
        ``model`` (spread evenly over each worker's requests), and score both models on every
        labelled request (``stats()["canary"]``, ``/metrics``' ``wabbit_canary_*``). Learning, saves
        and swaps concern the served model only. Linear models with the served model's -b."""
        if not isinstance(model, Model):
            raise TypeError(f"set_candidate() takes a wabbit.Model, not {type(model).__name__}")
        described = _description(model)
        with self._lock:
            self._engine.set_candidate(model.core, str(version), described[0], described[1], float(fraction))
            self._candidate = described

    def clear_candidate(self) -> None:
        """End the canary: every request is the served model's again."""
        with self._lock:
            self._engine.clear_candidate()
            self._candidate = None

    @property
    def candidate_version(self) -> Optional[str]:
        """The canary's version id, or None when there is no canary."""
        version = self._engine.stats()["canary"]["version"]
        return None if version is None else str(version)

    def promote_candidate(self) -> str:
        """The canary's candidate becomes the served version (a swap) and the canary ends; returns
        its version id. RuntimeError when there is no candidate."""
        with self._lock:
            if self._candidate is None:
                raise RuntimeError("there is no candidate to promote: set_candidate() first")
            version = str(self._engine.promote_candidate())
            self._describe(self._candidate)
            self._candidate = None
            return version

    def rollback(self) -> Tuple[str, str]:
        """Serve the previous version again; returns (the version left, the version now served).

        Following a store (``watch=``), this rolls the *store* back (:meth:`wabbit.ModelStore.rollback`:
        its previous version becomes current, so every replica following it moves too) and serves
        that version. Otherwise it serves again the version this server served before its last
        :meth:`swap` (one step: a second rollback without a swap in between raises
        :class:`RollbackError`)."""
        with self._lock:
            before = self.version
            if self._store is not None:
                from wabbit.store import StoreError

                try:
                    model = self._store.rollback()
                except StoreError as e:
                    raise RollbackError(str(e)) from None
                version = str(self._store.current)
                self.swap(model, version)  # the watcher sees it served and does not load it again
                return before, version
            previous = self._previous
            if previous is None:
                raise RollbackError(
                    "no previous version to roll back to: this server has served one version since it "
                    "started or since its last rollback (a rollback needs a swap before it, or a followed store)"
                )
            args, metadata = previous.described[0], previous.described[1]
            self._engine.swap(previous.core, previous.version, args, metadata)
            self._describe(previous.described)
            self._previous = None
            return before, previous.version

    # ------------------------------------------------------------------ lifetime
    def attach(
        self,
        *,
        http: Optional["HttpService"] = None,
        watcher: Optional["Watcher"] = None,
        store: Optional["ModelStore"] = None,
        pump: Optional[PredictionPump] = None,
        canary_watcher: Optional["Watcher"] = None,
    ) -> None:
        """Attach the HTTP service, a store's watcher (:func:`serve` does this; they stop with the
        server)."""
        if http is not None:
            self._http = http
        if store is not None:
            self._store = store
        if watcher is not None:
            self._watcher = watcher
        if pump is not None:
            self._pump = pump
        if canary_watcher is not None:
            self._canary_watcher = canary_watcher

    def stop(self, save: bool = False) -> None:
        """Stop: no new connections; what each connection already sent (whole lines) is answered;
        then with ``save`` (and a ``save_path``) the model is saved. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self._watcher is not None:
            self._watcher.stop()
        if self._canary_watcher is not None:
            self._canary_watcher.stop()
        if self._http is not None:
            self._http.stop()
        self._engine.stop(False)
        if self._pump is not None:
            self._pump.stop()
        if save and self._engine_options.get("save_path"):
            # (the engine's stop(save=True) passes "" to its save: saved here, after the stop, instead)
            self._engine.save("")

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        http = "" if self._http is None else f", http_port={self.http_port}"
        return f"<wabbit.serve.Server {state} on {self.listen}:{self.port}{http}, version {self.version!r}>"


def serve(
    model: Model,
    port: int = 0,
    http_port: Optional[int] = None,
    threads: Optional[int] = None,
    listen: str = "127.0.0.1",
    learn: bool = True,
    publish_every: int = 0,
    publish_seconds: float = 0.0,
    save_path: Optional[PathLike] = None,
    watch: Optional[PathLike] = None,
    max_line_bytes: int = 1048576,
    poll_seconds: float = 0.2,
    prediction_log: Optional[str] = None,
    canary: float = 0.0,
    candidates: Optional[PathLike] = None,
) -> Server:
    """Serve ``model`` over VW's line protocol on ``port`` (0: a free port, see ``.port``), and over
    HTTP/JSON with ``/metrics`` on ``http_port`` when given (0: a free one; needs
    ``pip install "wabbit[serve]"``); returns the running :class:`Server`.

    ``threads``: worker threads (default: one per core). ``learn=False``: predict only (-t).
    ``publish_every``/``publish_seconds``: publish mode (learn on a private copy, publish it every
    N examples / S seconds); otherwise learning updates the served weights in place (VW's Hogwild).
    ``save_path``: where ``save`` requests and ``stop(save=True)`` write (-f). ``watch``: a
    :class:`wabbit.ModelStore` folder whose current version is served, swapped in whenever it
    changes (polled every ``poll_seconds``). ``prediction_log``: a file or ``kafka://HOST:PORT/TOPIC``
    that every prediction of a tagged, unlabelled example is logged to
    (:mod:`wabbit.serve.prediction_log`). ``canary`` with ``candidates``: a second store folder
    whose current version is the candidate, answering that share of the requests and scored beside
    the served model (:meth:`Server.set_candidate`; promote it with :meth:`Server.promote_candidate`).
    """
    if not isinstance(model, Model):
        raise TypeError(f"serve() takes a wabbit.Model, not {type(model).__name__}")
    options: Dict[str, Any] = {
        "listen": str(listen),
        "port": int(port),
        "threads": int(threads) if threads else cpu_cores(),
        "learn": bool(learn),
        "publish_every": int(publish_every),
        "publish_seconds": float(publish_seconds),
        "save_path": "" if save_path is None else os.path.abspath(os.fspath(save_path)),
        "max_line_bytes": int(max_line_bytes),
        "prediction_log": prediction_log_lines if prediction_log else 0,
    }
    if options["port"] < 0 or options["port"] > 65535:
        raise ValueError(f"port must be in 0..65535 (0: a free one), not {port}")
    if options["threads"] < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    if options["publish_every"] < 0 or options["publish_seconds"] < 0:
        raise ValueError("publish_every and publish_seconds are counts and seconds >= 0")
    if options["max_line_bytes"] < 1:
        raise ValueError(f"max_line_bytes must be positive, not {max_line_bytes}")
    if (candidates is None) != (not canary):
        raise ValueError("canary and candidates go together: a share in (0, 1] and the candidates' store folder")
    if canary and not 0.0 < canary <= 1.0:
        raise ValueError(f"canary must be a share in (0, 1], not {canary}")
    if candidates is not None and not os.path.isdir(os.fspath(candidates)):
        raise FileNotFoundError(2, "no such candidates store folder", os.fspath(candidates))
    store = None
    if watch is not None:
        from wabbit.store import ModelStore

        if not os.path.isdir(os.fspath(watch)):
            raise FileNotFoundError(2, "no such model store folder", os.fspath(watch))
        store = ModelStore(watch)
    http_app = None
    if http_port is not None:
        from wabbit.serve import http

        http_app = http  # imported before the engine starts: a missing extra fails here, bound to nothing
        http.require()
    write_log = open_target(prediction_log) if prediction_log else None
    server = Server(model, options, learn=bool(learn))
    server.engine.start()
    try:
        if write_log is not None:
            server.attach(pump=PredictionPump(server.engine, write_log))
        if store is not None:
            from wabbit.serve.watch import Watcher

            watcher = Watcher(server, store, poll_seconds)
            server.attach(store=store, watcher=watcher)
            watcher.start()
        if candidates is not None:
            from wabbit.serve.watch import Watcher
            from wabbit.store import ModelStore

            share = float(canary)
            canary_watcher = Watcher(
                server,
                ModelStore(candidates),
                poll_seconds,
                install=lambda m, v: server.set_candidate(m, v, share),
                served=lambda: server.candidate_version or "",
            )
            server.attach(canary_watcher=canary_watcher)
            canary_watcher.start()
        if http_app is not None:
            server.attach(http=http_app.start_http(server, listen, int(http_port or 0)))
    except BaseException:
        server.stop()
        raise
    return server
