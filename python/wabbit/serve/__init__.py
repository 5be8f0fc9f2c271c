"""Serving: one process answers many clients while it learns (``wabbit --daemon``, HTTP, metrics).

:func:`serve` runs the C++ engine in this process and returns a :class:`Server`; :class:`Client`
speaks VW's line protocol to it (or to ``wabbit --daemon``). HTTP and ``/metrics`` need
``pip install "wabbit[serve]"`` and are imported only when asked for. docs/serving.md has the details.
"""

from wabbit.serve.client import Client, ServerError
from wabbit.serve.server import DEFAULT_PORT, RollbackError, Server, serve

__all__ = ["Client", "DEFAULT_PORT", "RollbackError", "Server", "ServerError", "serve"]
