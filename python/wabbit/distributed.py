"""Data-parallel training over MPI allreduce: each rank learns its share of the data, and the ranks
average their models at sync points (docs/distributed.md).

- :func:`allreduce` averages a model across the ranks of an mpi4py communicator, in place, with
  VW's rule for the model's update rule (:func:`expected_average` is the same rule in plain numpy).
  It works inside any mpi4py program, e.g. one rank per Kafka partition.
- ``mpiexec -n N wabbit -d data.vw --allreduce [--passes P] [--sync_every K] -f model.bin``: the
  command line's run (:func:`run_cli`), which each rank runs on its share.

The averaging rules, per update rule (``Model.core.table_layout()["rule"]``), for row i and ranks
r = 1..N:

- ``adaptive`` (VW's default): with a_r the rank's adaptive sum (squared gradients) and
  G = sum_r a_r, every column c of the row (weight, adaptive sum, normalizer, scratch) becomes
  sum_r (a_r / G) * c_r; a row with G = 0 (never updated anywhere) becomes the plain mean.
- ``ftrl``: the same, with FTRL's n (sum of squared gradients) in the role of a_r, over w, z, n.
- ``gd`` (--sgd, or --normalized/--invariant without --adaptive) and ``classic``: the plain mean of
  each column, except the normalizer (the largest |x| seen), which becomes the largest of the ranks'.
- The online state: t, the normalized sums and the unlabelled weight become the ranks' mean; the
  label range becomes the union (min of the minima, max of the maxima). A bandit model's table
  rows follow its rule; its counters become the (rounded) mean, tau-first's exploring events left
  the least of the ranks', and the random state rank 0's. Pending --l1/--l2 truncation is applied
  to the weights first (VW's sync_weights).

The table is one writable numpy view of the core's memory (``Model.core.weight_table()``): valid
while the model's table lives, and only while no other thread learns on the model.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, TextIO, Tuple, cast

import numpy as np

if TYPE_CHECKING:
    from wabbit.model import Model
    from wabbit.options import Options

__all__ = [
    "allreduce",
    "expected_average",
    "SyncReport",
    "share_ranges",
    "share_buffers",
    "run_cli",
    "mpi_available",
    "CHUNK_FLOATS",
]

#: Rows of the table averaged per MPI call: large tables go in chunks of about 16 MiB (float32).
CHUNK_FLOATS = 1 << 22

_STATE_MEAN = ("t", "normalized_sum_norm_x", "total_weight", "weighted_unlabeled")


def mpi_available() -> Optional[str]:
    """None if mpi4py imports, else why not (the mpi extra: ``pip install 'wabbit[mpi]'``)."""
    try:
        from mpi4py import MPI  # noqa: F401
    except ImportError as e:
        return f"mpi4py is not installed ({e}); pip install 'wabbit[mpi]' (mpi4py and MPICH's wheel)"
    return None


def _world(comm: Any) -> Any:
    if comm is not None:
        return comm
    from mpi4py import MPI

    return MPI.COMM_WORLD


@dataclass
class SyncReport:
    """What one :func:`allreduce` did: ranks, the rule, the table's bytes, the bytes each rank
    reduced (the blocks of rows some rank had touched), seconds."""

    ranks: int
    rule: str
    table_bytes: int
    reduced_bytes: int
    seconds: float


def allreduce(model: "Model", comm: Any = None, *, chunk_floats: int = CHUNK_FLOATS) -> SyncReport:
    """Average ``model`` across the ranks of ``comm`` (default: MPI.COMM_WORLD), in place, with the
    rule of its update rule (module docstring). Every rank must call it (it is a collective); after
    it, every rank's model is the same. Raises ValueError when the ranks' tables differ in shape or
    rule (different -b or update flags)."""
    comm = _world(comm)
    from mpi4py import MPI

    t0 = time.perf_counter()
    core = model.core
    n = comm.Get_size()
    core.sync_weights()  # pending --l1/--l2 into the weights: the gravity and contraction are then neutral
    layout = core.table_layout()
    mine = (layout["rule"], int(layout["stride"]), int(layout["rows"]))
    shapes = comm.allgather(mine)
    if any(s != shapes[0] for s in shapes):
        raise ValueError(
            "allreduce: the ranks' models differ (rule, stride, rows): "
            + ", ".join(f"rank {r}: {s}" for r, s in enumerate(shapes))
        )
    table = core.weight_table()
    if not table.flags.c_contiguous:
        raise ValueError("allreduce: the weight table is not one contiguous array")
    sent = 0
    if n > 1:
        sent = _average_table(comm, MPI, table, layout, n, chunk_floats)
        _average_state(comm, MPI, model, n)
    return SyncReport(n, str(layout["rule"]), int(table.nbytes), sent, time.perf_counter() - t0)


#: Rows tested together for all-zero: a block that is zero on every rank is not sent (it averages to zero).
ZERO_BLOCK_ROWS = 64


def _average_table(comm: Any, MPI: Any, table: np.ndarray, layout: Dict[str, Any], n: int, chunk_floats: int) -> int:
    """The rule over the whole table. Blocks of rows that are zero on every rank stay zero under every
    rule, so only the blocks some rank has touched go over the wire (a sparse -b 24 table costs what
    its used rows cost); one flag per block is reduced first to agree on them."""
    rows, stride = table.shape
    block_rows = min(rows, ZERO_BLOCK_ROWS)
    blocks = table.reshape(rows // block_rows, block_rows * stride)
    live = np.any(blocks, axis=1).astype(np.uint8)
    comm.Allreduce(MPI.IN_PLACE, live, op=MPI.MAX)
    used = np.flatnonzero(live)
    per_call = max(1, chunk_floats // (block_rows * stride))
    for lo in range(0, len(used), per_call):
        pick = used[lo : lo + per_call]
        if len(pick) == pick[-1] - pick[0] + 1:  # consecutive blocks: reduced in place
            part = blocks[pick[0] : pick[-1] + 1].reshape(-1, stride)
            _average_rows(comm, MPI, part, layout, n)
        else:
            buf = blocks[pick].reshape(-1, stride)
            _average_rows(comm, MPI, buf, layout, n)
            blocks[pick] = buf.reshape(len(pick), -1)
    return int(len(used) * blocks.shape[1] * 4)


def _average_rows(comm: Any, MPI: Any, block: np.ndarray, layout: Dict[str, Any], n: int) -> None:
    """The rule over contiguous rows, in place."""
    slots: Dict[str, int] = layout["slots"]
    rule = layout["rule"]
    acc = slots.get("adaptive") if rule == "adaptive" else slots.get("n") if rule == "ftrl" else None
    inv_n = np.float32(1.0 / n)
    if acc is not None:
        a = np.ascontiguousarray(block[:, acc])
        total = np.empty_like(a)
        comm.Allreduce(a, total, op=MPI.SUM)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(total > 0, a / total, inv_n).astype(np.float32)
        block *= ratio[:, None]
        comm.Allreduce(MPI.IN_PLACE, block, op=MPI.SUM)
        return
    norm = slots.get("normalized")
    keep = None
    if norm is not None:
        keep = np.ascontiguousarray(block[:, norm])
        comm.Allreduce(MPI.IN_PLACE, keep, op=MPI.MAX)
    comm.Allreduce(MPI.IN_PLACE, block, op=MPI.SUM)
    block *= inv_n
    if keep is not None:
        block[:, norm] = keep


def _average_state(comm: Any, MPI: Any, model: "Model", n: int) -> None:
    core = model.core
    st = core.state()
    sums = [float(st[k]) for k in _STATE_MEAN]
    lows = [float(st["min_label"]), -float(st["max_label"])]
    cb = core.cb_state() if core.is_cb() else None
    mc = core.mc_state() if core.is_mc() else None
    if cb is not None:
        sums += [float(v) for v in cb["event_sum"]] + [float(v) for v in cb["action_sum"]] + [float(cb["counter"])]
        sums += list(cb["norm_x"]) + list(cb["total_weight"])
        lows.append(float(cb["tau"]))
    if mc is not None:
        sums += list(mc["norm_x"]) + list(mc["total_weight"])
    s = np.array(sums, dtype=np.float64)
    comm.Allreduce(MPI.IN_PLACE, s, op=MPI.SUM)
    s /= n
    low = np.array(lows, dtype=np.float64)
    comm.Allreduce(MPI.IN_PLACE, low, op=MPI.MIN)
    new = {k: float(s[i]) for i, k in enumerate(_STATE_MEAN)}
    new["min_label"] = float(low[0])
    new["max_label"] = -float(low[1])
    core.set_state(new)
    at = len(_STATE_MEAN)
    if cb is not None:
        ne, na = len(cb["event_sum"]), len(cb["action_sum"])
        cb["event_sum"] = [int(round(v)) for v in s[at : at + ne]]
        cb["action_sum"] = [int(round(v)) for v in s[at + ne : at + ne + na]]
        cb["counter"] = int(round(s[at + ne + na]))
        at += ne + na + 1
        nx = len(cb["norm_x"])
        cb["norm_x"] = [float(v) for v in s[at : at + nx]]
        cb["total_weight"] = [float(v) for v in s[at + nx : at + 2 * nx]]
        at += 2 * nx
        cb["tau"] = int(low[2])
        cb["rng"] = comm.bcast(cb["rng"], root=0)
        core.set_cb_state(cb)
    if mc is not None:
        k = len(mc["norm_x"])
        mc["norm_x"] = [float(v) for v in s[at : at + k]]
        mc["total_weight"] = [float(v) for v in s[at + k : at + 2 * k]]
        core.set_mc_state(mc)


def expected_average(tables: Sequence[np.ndarray], layout: Dict[str, Any]) -> np.ndarray:
    """The stated rule in plain numpy (float32, as the core keeps the table): the table every rank
    holds after :func:`allreduce`, from the ranks' tables before it (for tests and for reading)."""
    ts = [np.asarray(t, dtype=np.float32) for t in tables]
    n = len(ts)
    slots = layout["slots"]
    rule = layout["rule"]
    acc = slots.get("adaptive") if rule == "adaptive" else slots.get("n") if rule == "ftrl" else None
    if acc is not None:
        total = ts[0][:, acc].copy()
        for t in ts[1:]:
            total += t[:, acc]
        out = np.zeros_like(ts[0])
        for t in ts:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(total > 0, t[:, acc] / total, np.float32(1.0 / n)).astype(np.float32)
            out += t * ratio[:, None]
        return out
    out = ts[0].copy()
    for t in ts[1:]:
        out += t
    out *= np.float32(1.0 / n)
    norm = slots.get("normalized")
    if norm is not None:
        out[:, norm] = np.max(np.stack([t[:, norm] for t in ts]), axis=0)
    return out


# --- the command line: mpiexec -n N wabbit ... --allreduce ------------------------------------


def share_ranges(size: int, ranks: int, rank: int, block: Optional[int] = None) -> List[Tuple[int, int]]:
    """The byte ranges of one file that `rank` of `ranks` reads: every ranks-th block, from block
    `rank` on. A line belongs to the block its first byte is in (the reader finishes a line that
    crosses the block's end and skips a line that began in the block before).

    >>> share_ranges(100, 2, 1, block=30)
    [(30, 60), (90, 100)]
    """
    if block is None:
        block = min(1 << 20, max(4096, size // (ranks * 64) + 1))
    out = []
    k = rank
    while k * block < size:
        out.append((k * block, min(size, (k + 1) * block)))
        k += ranks
    return out


def share_buffers(path: str, rank: int, ranks: int, whole: bool = False) -> Iterator[bytes]:
    """This rank's share of a file, as buffers of whole lines: the whole file (``whole``: one file
    per rank), or every ranks-th block of it (:func:`share_ranges`). A gzip file cannot be sought:
    its share is every ranks-th piece of about 1 MiB of decompressed lines."""
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    if whole or gz:
        import gzip

        with gzip.open(path, "rb") if gz else open(path, "rb") as g:
            k = 0
            while True:
                piece = g.read(1 << 20)
                if not piece:
                    return
                piece += g.readline()  # to the end of the line it cut
                if whole or k % ranks == rank:
                    yield piece
                k += 1
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        for lo, hi in share_ranges(size, ranks, rank):
            start = max(0, lo - 1)
            f.seek(start)
            data = f.read(hi - start)
            if lo > 0:  # the line that began in the block before belongs to it
                cut = data.find(b"\n")
                if cut < 0:
                    continue
                data = data[cut + 1 :]
            if data and not data.endswith(b"\n"):
                data += f.readline()  # the line that begins in this block ends in a later one
            if data:
                yield data


def _chunks(buffers: Iterator[bytes], lines: int) -> Iterator[bytes]:
    """The buffers regrouped into pieces of ``lines`` lines (the last may have fewer; 0: as they come).

    >>> list(_chunks(iter([b"a\\nb\\nc\\n", b"d\\ne\\n"]), 2))
    [b'a\\nb\\n', b'c\\nd\\n', b'e\\n']
    """
    pending: List[bytes] = []
    count = 0
    for buf in buffers:
        if not buf.endswith(b"\n"):
            buf += b"\n"
        if lines <= 0:
            yield buf
            continue
        ends = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
        start, i = 0, 0
        while len(ends) - i >= lines - count:
            i += lines - count
            cut = int(ends[i - 1]) + 1
            pending.append(buf[start:cut])
            yield b"".join(pending)
            pending, count, start = [], 0, cut
        if start < len(buf):
            pending.append(buf[start:])
            count += len(ends) - i
    if pending:
        yield b"".join(pending)


_STAT_SUMS = (
    "example_number",
    "weighted_examples",
    "weighted_labeled_examples",
    "weighted_unlabeled_examples",
    "weighted_labels",
    "sum_loss",
    "total_features",
    "bad_lines",
)

# Flags each rank may give differently: the data (its share) and where its own outputs go.
_PER_RANK = ("data", "quiet")


class _Agreed(Exception):
    """An error every rank found alike (from gathered facts): rank 0 names it, every rank exits 1
    without MPI_Abort (no rank is left waiting)."""


def _flag_words(opts: "Options") -> Dict[str, str]:
    from wabbit.options import FLAGS

    out = {}
    for f in FLAGS:
        if f.dest in _PER_RANK or not opts.given(f.dest):
            continue
        out[f.names[-1]] = repr(getattr(opts, f.dest))
    return out


def _check_flags(comm: Any, opts: "Options") -> None:
    """Every rank's flags (but -d) must agree: the mismatch is named, on every rank, before learning."""
    words = _flag_words(opts)
    everyone = comm.allgather(words)
    problems = []
    for r, theirs in enumerate(everyone):
        for name in sorted(set(theirs) | set(everyone[0])):
            a, b = everyone[0].get(name), theirs.get(name)
            if a != b:
                problems.append(f"{name}: rank 0 {a or 'not given'}, rank {r} {b or 'not given'}")
    if problems:
        raise _Agreed("--allreduce: the ranks were started with different flags: " + "; ".join(problems))


def _refused(opts: "Options") -> Optional[str]:
    if not opts.data:
        return "-d: each rank reads its share of a file (standard input cannot be shared)"
    for dest, flag in (
        ("predictions", "-p"),
        ("raw_predictions", "-r"),
        ("audit", "--audit"),
        ("invert_hash", "--invert_hash"),
        ("testonly", "-t"),
        ("daemon", "--daemon"),
        ("drift", "--drift"),
        ("store", "--store"),
        ("save_every", "--save_every"),
    ):
        if opts.given(dest):
            return f"{flag} (not with --allreduce yet: train with --allreduce, then use the model on one process)"
    if (opts.threads or 1) > 1:
        return "--threads > 1 (the ranks are the parallelism: one thread each)"
    if opts.oaa or opts.csoaa:
        return "--oaa/--csoaa (multiclass learns in one pass on one process yet)"
    return None


def run_cli(opts: "Options", err: TextIO, comm: Any = None) -> int:
    """``mpiexec -n N wabbit ... --allreduce``: this rank's part. Any error on one rank is printed
    with its rank and ends every rank (MPI_Abort), so that no rank waits forever for a dead one."""
    problem = mpi_available()
    if problem is not None:
        from wabbit.options import OptionError

        raise OptionError(f"--allreduce: {problem}")
    comm = _world(comm)
    rank, ranks = comm.Get_rank(), comm.Get_size()
    try:
        return _run_rank(opts, err, comm, rank, ranks)
    except _Agreed as e:
        if rank == 0:
            err.write(f"wabbit: error: {e}\n")
            err.flush()
        return 1
    except Exception as e:  # noqa: BLE001 - every failure must end the other ranks
        from wabbit.cli.process import describe_error

        err.write(f"wabbit: error (--allreduce rank {rank} of {ranks}): {describe_error(e)}\n")
        err.flush()
        if ranks > 1:
            comm.Abort(1)
        return 1


def _run_rank(opts: "Options", err: TextIO, comm: Any, rank: int, ranks: int) -> int:
    from wabbit.cli.outputs import failed_streams, not_written, write_outputs
    from wabbit.cli.summary import header, summary
    from wabbit.cli.train import starting_model
    from wabbit.options import OptionError

    why = _refused(opts)
    bad = comm.allgather(why)
    if any(b is not None for b in bad):
        raise _Agreed("--allreduce: " + next(b for b in bad if b is not None))
    _check_flags(comm, opts)
    assert opts.data is not None
    whole = "{rank}" in opts.data
    path = opts.data.replace("{rank}", str(rank))
    if not os.path.exists(path):
        raise OptionError(f"-d {path}: no such file")
    lead = rank == 0
    quiet = opts.quiet or not lead
    passes = int(opts.passes or 1)
    sync_every = int(opts.sync_every or 0)
    if (opts.sync_every is not None and opts.sync_every < 1) or passes < 1:
        raise _Agreed("--sync_every takes a number of examples >= 1, --passes a number >= 1")
    decay = 1.0 if opts.decay_learning_rate is None else float(opts.decay_learning_rate)
    model = starting_model(opts)
    if model.is_bandit:
        raise _Agreed("--allreduce: contextual bandits learn events of several lines; use wabbit.distributed.allreduce")
    model.core.reset_stats(float("inf"))

    def say(line: str) -> None:
        if not quiet:
            err.write(line + "\n")

    for line in header(model, opts):
        say(line)
    say(f"allreduce: {ranks} ranks; -d {opts.data}" + (" (one file per rank)" if whole else " (every N-th block)"))
    say("syncs: the end of each pass" + (f" and every {sync_every} examples" if sync_every else ""))
    if passes > 1:
        say("--allreduce: every example is learned (no holdout); the text is read again each pass (no cache)")
    say("average  since         example        example  ranks     sync  sync")
    say("loss     last          counter         weight  done    number  seconds")
    run_opts = {
        "learn": True,
        "print_progress": False,
        "strict": opts.strict,
        "account": True,
        "input_format": opts.input_format(),
        "chain_hash": opts.chain_hash,
    }
    last = np.zeros(len(_STAT_SUMS))
    syncs = 0
    sync_seconds = 0.0
    started = time.perf_counter()
    learned = False
    first = True  # the first sync runs even if no rank has data: the models then agree from the start
    for _ in range(passes):
        feed = _chunks(share_buffers(path, rank, ranks, whole), sync_every)
        more = True
        while True:
            if more:
                piece = next(feed, None)
                if piece is None:
                    more = False
                else:
                    model.core.run_buffer(piece, run_opts)
                    learned = True
            if sync_every == 0 and more:
                continue  # learn the whole share: one sync at the end of the pass
            flags = np.array([1 if more else 0, 1 if learned else 0], dtype=np.int64)
            comm.Allreduce(flags.copy(), flags)
            still = int(flags[0])
            if flags[1] > 0 or first:  # a sync after which no rank learned anything would change nothing
                rep = allreduce(model, comm)
                syncs += 1
                sync_seconds += rep.seconds
                learned = first = False
                last = _progress(comm, model, last, ranks - still, syncs, sync_seconds, say)
            if still == 0:
                break
        model.core.end_pass(decay)
    took = time.perf_counter() - started
    totals = _totals(comm, model)
    totals["current_pass"] = passes
    n_ex = int(totals["example_number"])
    say(
        f"allreduce: {ranks} ranks learned {n_ex} examples in {took:.3f} s ({n_ex / max(took, 1e-9):.0f} examples/s, "
        f"syncs included: {syncs} taking {sync_seconds:.3f} s on rank 0)"
    )
    if lead and not opts.quiet:
        err.write(
            summary(
                cast("Model", _ClusterView(model, totals)), bad_lines=int(totals["bad_lines"]), multipass=passes > 1
            )
        )
    status = 0
    if lead:
        failed = failed_streams({"bad_lines": totals["bad_lines"]}, opts)
        failed += write_outputs(model, opts)
        if failed:
            err.write(not_written(failed, opts))
            status = 1
    err.flush()
    status = int(comm.allreduce(status, op=_max_op()))
    return status


def _max_op() -> Any:
    from mpi4py import MPI

    return MPI.MAX


def _totals(comm: Any, model: "Model") -> Dict[str, Any]:
    s = model.stats
    v = np.array([float(s[k]) for k in _STAT_SUMS], dtype=np.float64)
    comm.Allreduce(v.copy(), v)
    out: Dict[str, Any] = dict(s)
    out.update(
        {
            k: (int(v[i]) if k in ("example_number", "total_features", "bad_lines") else float(v[i]))
            for i, k in enumerate(_STAT_SUMS)
        }
    )
    # the two labels VW's best constant uses, and whether there were more: over all ranks
    labels = comm.allgather((s["first_observed_label"], s["second_observed_label"], s["more_than_two_labels"]))
    seen: List[float] = []
    more = any(m for _, _, m in labels)
    for a, b, _ in labels:
        for x in (a, b):
            if x is not None and x not in seen:
                seen.append(x)
    out["first_observed_label"] = seen[0] if seen else None
    out["second_observed_label"] = seen[1] if len(seen) > 1 else None
    out["more_than_two_labels"] = more or len(seen) > 2
    return out


class _ClusterView:
    """What the closing summary reads from a model, with the cluster's totals as the statistics."""

    def __init__(self, model: "Model", stats: Dict[str, Any]) -> None:
        self.stats = stats
        self.options = model.options
        self.core = model.core
        self.is_bandit = model.is_bandit


def _progress(
    comm: Any, model: "Model", last: np.ndarray, done: int, syncs: int, seconds: float, say: Any
) -> np.ndarray:
    s = model.stats
    v = np.array([float(s[k]) for k in _STAT_SUMS], dtype=np.float64)
    comm.Allreduce(v.copy(), v)
    w, loss = v[2], v[5]
    dw, dl = w - last[2], loss - last[5]
    avg = f"{loss / w:.6f}" if w > 0 else "n.a."
    since = f"{dl / dw:.6f}" if dw > 0 else "n.a."
    say(f"{avg[:8]:<8} {since[:8]:<8} {int(v[0]):>12} {v[1]:>14.1f} {done:>6} {syncs:>8} {seconds:>8.3f}")
    return v
