"""HTTP/JSON beside the line protocol (``--http_port``): a starlette app run by uvicorn in a thread.

Endpoints (JSON in and out; a bad request gets 400 and ``{"error": "..."}`` saying what to send):

- ``POST /predict``  ``{"example": X}`` or ``{"examples": [X, ...]}``, X a VW text line without a
  label or a dict ``{namespace: {feature: value}}`` -> ``{"prediction": p}`` / ``{"predictions": [...]}``
- ``POST /learn``    ``{"example": X, "label": y, "weight": w}`` or ``{"examples": [...], "labels":
  [...], "weights": [...]}`` (a text line carries its label; a dict takes one) -> the predictions made
  before learning. For a bandit model X is an event: its VW text (lines, with the label on the chosen
  action's line) or ``{"shared": {...}, "actions": [{...}, ...], "label": [index, cost, probability]}``.
- ``POST /rank``     ``{"shared": {...} or null, "candidates": [{...}, ...]}`` -> ``{"order": [...],
  "probabilities": [...]}`` best first, as :meth:`wabbit.Model.rank` gives them
- ``GET /healthz``   200 ``{"status": "ok", "version": ...}`` while serving
- ``GET /model``     the version, the model's flags, its lineage, the mode (:meth:`Server.info`)
- ``POST /model/save``      ``{"path": "..."}`` (optional: the -f file) -> ``{"path": ...}``
- ``POST /model/rollback``  serve the previous version (see :meth:`Server.rollback`); 409 if none
- ``GET /metrics``   Prometheus' text format (:mod:`wabbit.serve.metrics`)

starlette, uvicorn and prometheus-client are imported only here, when HTTP is asked for
(``pip install "wabbit[serve]"``).
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from functools import partial
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple

from wabbit.serve import metrics
from wabbit.serve.text import event_lines, example_line, is_error, parse_action_list, parse_prediction

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from wabbit.serve.server import Server

__all__ = ["HttpService", "BadRequest", "create_app", "start_http", "require"]

_START_SECONDS = 10.0


def require() -> None:
    """ImportError naming the extra to install unless starlette, uvicorn and prometheus-client are there."""
    try:
        import prometheus_client  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ImportError(f"{metrics.MISSING_EXTRA} ({e})") from None


class BadRequest(ValueError):
    """A request the server cannot take: answered 400 (409 with ``status=409``) and this message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _body(raw: bytes) -> Dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f'the body is not JSON ({e}); send a JSON object such as {{"example": "|f a"}}') from None
    if not isinstance(body, dict):
        raise BadRequest(f'the body is a JSON {type(body).__name__}; send an object such as {{"example": "|f a"}}')
    return body


def _items(body: Mapping[str, Any], what: str) -> Tuple[List[Any], bool]:
    """(examples, whether there were many) from ``{"example": X}`` or ``{"examples": [...]}``."""
    if "examples" in body:
        items = body["examples"]
        if not isinstance(items, list):
            raise BadRequest(f'"examples" is a list of {what}')
        return items, True
    if "example" in body:
        return [body["example"]], False
    raise BadRequest(f'send {{"example": ...}} or {{"examples": [...]}} ({what})')


def _per_item(body: Mapping[str, Any], key: str, many: bool, n: int) -> List[Any]:
    """``label``/``weight`` (one) or ``labels``/``weights`` (many), as a list of n values or Nones."""
    if not many:
        return [body.get(key)]
    values = body.get(key + "s")
    if values is None:
        return [None] * n
    if not isinstance(values, list) or len(values) != n:
        raise BadRequest(f'"{key}s" is a list with one {key} (or null) per example: {n} of them')
    return values


def _has_label(line: str) -> bool:
    head = line.split("|", 1)[0]
    return any(not token.startswith("'") for token in head.split())


def _number(reply: str) -> float:
    if is_error(reply):
        raise BadRequest(f"the server refused the example: {reply}")
    return parse_prediction(reply)


def _greedy(best_first: List[float]) -> List[float]:
    """The greedy pmf of a model that does not explore (--cb_adf), as :meth:`wabbit.Model.rank`
    gives it: 1 on the best action, split among the actions tied with it (values best first)."""
    tied = sum(1 for v in best_first if v == best_first[0]) if best_first else 0
    return [1.0 / tied if i < tied else 0.0 for i in range(len(best_first))]


def _finite(x: float) -> Optional[float]:
    return x if math.isfinite(x) else None


class Handlers:
    """What each endpoint does, on the server's engine (run in starlette's thread pool: the
    engine's calls release the GIL and may wait on a swap)."""

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.registry = metrics.registry(server.stats)

    def _text_replies(self, lines: List[str]) -> List[str]:
        reply = self.server.engine.request("".join(line + "\n" for line in lines))
        out = str(reply).split("\n")
        return out[: len(lines)]

    def predict(self, body: Dict[str, Any]) -> Dict[str, Any]:
        if self.server.is_bandit:
            raise BadRequest('this is a contextual-bandit model: POST /rank {"shared": {...}, "candidates": [...]}')
        items, many = _items(body, "VW text lines without a label, or {namespace: {feature: value}} dicts")
        out: List[Optional[float]] = []
        for i, x in enumerate(items):
            if isinstance(x, str):
                line = self._line(x, i)
                if _has_label(line):
                    raise BadRequest(
                        f"example {i} has a label ({line.split('|', 1)[0].strip()!r}): /predict does not learn; "
                        "drop the label, or POST it to /learn"
                    )
                out.append(_finite(_number(self._text_replies([line])[0])))
            elif isinstance(x, dict):
                out.append(_finite(float(self._engine_call(partial(self.server.engine.predict_dict, x)))))
            else:
                raise BadRequest(f"example {i} is a {type(x).__name__}: send a VW text line or a dict of namespaces")
        return {"predictions": out} if many else {"prediction": out[0]}

    def learn(self, body: Dict[str, Any]) -> Dict[str, Any]:
        if not self.server.learning:
            raise BadRequest("this server does not learn (-t / learn=False): POST /predict instead", status=409)
        items, many = _items(body, "VW text lines or {namespace: {feature: value}} dicts")
        labels = _per_item(body, "label", many, len(items))
        weights = _per_item(body, "weight", many, len(items))
        if self.server.is_bandit:
            return self._learn_events(items, labels, many)
        out: List[Optional[float]] = []
        for i, (x, y, w) in enumerate(zip(items, labels, weights)):
            try:
                out.append(self._learn_one(i, x, y, w))
            except BadRequest as e:
                if not many or str(e).startswith(f"example {i}"):
                    raise
                # a batch is learned in order: name the refused example, and say what was learned
                done = f"; examples 0 to {i - 1} were learned" if i > 0 else ""
                raise BadRequest(f"example {i}: {e}{done}", e.status) from None
        return {"predictions": out} if many else {"prediction": out[0]}

    def _learn_one(self, i: int, x: Any, y: Any, w: Any) -> Optional[float]:
        """One example of /learn (its index i for the messages); the prediction made before learning it."""
        if isinstance(x, str):
            if y is not None or w is not None:
                raise BadRequest(f"example {i} is text, which carries its own label and weight: drop label/weight")
            return _finite(_number(self._text_replies([self._line(x, i)])[0]))
        if isinstance(x, dict):
            if y is None:
                raise BadRequest(f'example {i} is a dict: send its "label" (or "labels": [...] for many)')
            label, weight = self._float(y, "label"), 1.0 if w is None else self._float(w, "weight")
            p = self._engine_call(partial(self.server.engine.learn_dict, x, label, weight))
            return _finite(float(p))
        raise BadRequest(f"example {i} is a {type(x).__name__}: send a VW text line or a dict of namespaces")

    def _learn_events(self, items: List[Any], labels: List[Any], many: bool) -> Dict[str, Any]:
        out = []
        for i, (x, y) in enumerate(zip(items, labels)):
            if isinstance(x, str):
                lines = [line for line in x.strip("\n").split("\n")]
            elif isinstance(x, list) and all(isinstance(line, str) for line in x):
                lines = list(x)
            elif isinstance(x, dict) and "actions" in x:
                label = x.get("label", y)
                try:
                    lines = event_lines(x.get("shared"), x["actions"], None if label is None else tuple(label))
                except (TypeError, ValueError) as e:
                    raise BadRequest(f"event {i}: {e}") from None
            else:
                raise BadRequest(
                    f'event {i}: send VW text (shared line, action lines) or {{"shared": {{...}}, "actions": [...], '
                    '"label": [index, cost, probability]}'
                )
            if not lines or any(not line.strip() for line in lines):
                raise BadRequest(f"event {i}: its lines must not be blank (the blank line that ends it is added)")
            reply = str(self.server.engine.request("".join(line + "\n" for line in lines) + "\n")).split("\n")[0]
            if is_error(reply):
                raise BadRequest(f"the server refused event {i}: {reply}")
            actions, values = parse_action_list(reply)
            out.append({"actions": actions, "values": values})
        return {"predictions": out} if many else {"prediction": out[0]}

    def rank(self, body: Dict[str, Any]) -> Dict[str, Any]:
        if not self.server.is_bandit:
            raise BadRequest("/rank is for contextual-bandit models (--cb_adf, --cb_explore_adf); POST /predict")
        shared = body.get("shared")
        candidates = body.get("candidates")
        if shared is not None and not isinstance(shared, dict):
            raise BadRequest('"shared" is the context as {namespace: {feature: value}}, or null')
        if not isinstance(candidates, list) or not candidates or not all(isinstance(c, dict) for c in candidates):
            raise BadRequest('"candidates" is a non-empty list of {namespace: {feature: value}} dicts, one per action')
        order, values = self._engine_call(partial(self.server.engine.rank, shared, candidates))
        probs = [float(p) for p in values]
        if not self.server.explores:
            probs = _greedy(probs)
        return {"order": [int(i) for i in order], "probabilities": probs}

    def save(self, body: Dict[str, Any]) -> Dict[str, Any]:
        path = body.get("path")
        if path is not None and (not isinstance(path, str) or not path):
            raise BadRequest('"path" is the file to write (a non-empty string), or leave it out for the -f file')
        try:
            return {"path": self.server.save(path)}
        except ValueError as e:
            raise BadRequest(str(e)) from None

    def rollback(self, body: Dict[str, Any]) -> Dict[str, Any]:
        try:
            left, now = self.server.rollback()
        except LookupError as e:  # RollbackError: nothing to roll back to
            raise BadRequest(str(e), status=409) from None
        return {"version": now, "previous": left}

    def healthz(self) -> Tuple[int, Dict[str, Any]]:
        running = self.server.running
        return (200 if running else 503), {"status": "ok" if running else "stopped", "version": self.server.version}

    def _line(self, x: str, i: int) -> str:
        try:
            return example_line(x)
        except ValueError as e:
            raise BadRequest(f"example {i}: {e}") from None

    @staticmethod
    def _float(x: Any, what: str) -> float:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise BadRequest(f'"{what}" is a number, not {json.dumps(x)}')
        return float(x)

    @staticmethod
    def _engine_call(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (TypeError, ValueError) as e:
            raise BadRequest(str(e)) from None


def create_app(server: "Server") -> "Starlette":
    """The starlette app over ``server``."""
    require()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    handlers = Handlers(server)

    def json_endpoint(work: Callable[[Dict[str, Any]], Dict[str, Any]]) -> Callable[["Request"], Awaitable["Response"]]:
        async def endpoint(request: "Request") -> "Response":
            try:
                body = _body(await request.body())
                return JSONResponse(await run_in_threadpool(work, body))
            except BadRequest as e:
                return JSONResponse({"error": str(e)}, status_code=e.status)

        return endpoint

    async def healthz(request: "Request") -> "Response":
        status, body = handlers.healthz()
        return JSONResponse(body, status_code=status)

    async def model(request: "Request") -> "Response":
        return JSONResponse(server.info())

    async def metrics_endpoint(request: "Request") -> "Response":
        data = await run_in_threadpool(metrics.exposition, handlers.registry)
        return Response(data, media_type=metrics.CONTENT_TYPE)

    routes = [
        Route("/predict", json_endpoint(handlers.predict), methods=["POST"]),
        Route("/learn", json_endpoint(handlers.learn), methods=["POST"]),
        Route("/rank", json_endpoint(handlers.rank), methods=["POST"]),
        Route("/model/save", json_endpoint(handlers.save), methods=["POST"]),
        Route("/model/rollback", json_endpoint(handlers.rollback), methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/model", model, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    return Starlette(routes=routes)


class HttpService:
    """uvicorn serving the app in a thread on a socket bound here (so port 0's port is known)."""

    def __init__(self, server: "Server", listen: str, port: int) -> None:
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((listen, port))
            self._sock.listen(1024)
        except OSError:
            self._sock.close()
            raise
        self.port: int = int(self._sock.getsockname()[1])
        config = uvicorn.Config(create_app(server), log_level="warning", lifespan="off", access_log=False)
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="wabbit-http", daemon=True)
        self._failure: Optional[BaseException] = None

    def _run(self) -> None:
        try:
            self._uvicorn.run(sockets=[self._sock])
        except BaseException as e:  # reported by start(); the thread ends
            self._failure = e

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + _START_SECONDS
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the HTTP server did not start: {self._failure or 'timed out'}")
            time.sleep(0.005)

    def stop(self) -> None:
        """Finish the requests in flight, close the socket, join the thread."""
        self._uvicorn.should_exit = True
        if self._thread.is_alive():
            self._thread.join(_START_SECONDS)
        self._sock.close()


def start_http(server: "Server", listen: str, port: int) -> HttpService:
    """HTTP on ``listen:port`` (0: a free port, see ``.port``) for ``server``, started."""
    require()
    service = HttpService(server, listen, port)
    service.start()
    return service
