"""Data frames in, with no text built: pandas, pyarrow and polars columns read by the core.

:meth:`wabbit.Model.learn_many` and :meth:`wabbit.Model.predict_many` take a frame with
``label=`` (a column), ``namespaces=`` (``{namespace: [columns]}``) and ``weight=`` (a column or
None). Each row is learned as VW would learn the text line that names its columns::

    namespaces={"u": ["user", "age"], "a": ["ad", "price"]}, row (user="alice", age=31, ad="a7",
    price=2.5, clicked=1)   ==   "1 |u user=alice age:31 |a ad=a7 price:2.5"

The rules (docs/frames.md has them with the reasons):

- A number column (floats, integers, booleans) gives the feature named after the column. Its value
  is what VW's text reader makes of the number as Python writes it (``f"age:{x}"``: ``31``,
  ``12.34``, ``31.0``, ``1e-05``; a float32 widened to a Python float first), so the row equals
  the line bit for bit even where VW's reader is one unit off the nearest float32 (it is, for some
  decimals). Booleans are 1 and 0. A value of 0 drops the feature, as ``age:0`` does in VW's text.
  An infinite value (or one beyond float32) refuses the row, as ``age:inf`` does.
- A string or categorical column gives the feature ``column=value`` (value 1), hashed as VW hashes
  that name in the line. Category values that are not strings are written with ``str()``.
- Nulls: a null (None, NaN, NA, a masked entry) in a feature column leaves the feature out, as if
  the line did not name it. A null label makes the row an unlabelled example (predicted, not
  learned, as a line without a label). A null weight is weight 1, as a line without one.
- Namespaces: the namespace's first letter is its slot (``-q ua`` crosses namespaces starting with
  u and a), its name is hashed as VW hashes it; ``""`` is the unnamed namespace. The constant
  feature, ``--noconstant``, interactions and ``--ignore`` apply as for text.
- ``namespaces=None`` puts every column but the label and the weight in the unnamed namespace.

The columns go to the core as buffers (numpy arrays, read in place where the frame's memory allows
it); a string column's distinct values are found by the frame library and hashed once each in C++,
then each row is a code into them. No Python runs and no string is built per row; the learning
loop runs without the GIL.

>>> import pandas as pd, wabbit
>>> df = pd.DataFrame({"user": ["alice", "bob", None], "age": [31, 0, 45], "clicked": [1, -1, None]})
>>> m = wabbit.Model("--loss_function logistic")
>>> p = m.learn_many(df, label="clicked", namespaces={"u": ["user", "age"]})
>>> t = wabbit.Model("--loss_function logistic")
>>> q = t.learn_many(["1 |u user=alice age:31", "-1 |u user=bob", "|u age:45"])
>>> p.tolist() == q.tolist(), m.predict("|u user=bob") == t.predict("|u user=bob")
(True, True)
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from wabbit import runs

if TYPE_CHECKING:
    import numpy as np

    from wabbit.model import Model
    from wabbit.progress import Bar
    from wabbit.store import ModelStore

__all__ = ["is_frame", "frame_columns", "run"]

# (namespace, column, values, nulls or None, categories or None): what the core's run_frame takes
Column = Tuple[str, str, Any, Any, Optional[List[str]]]


def _library(obj: Any) -> Optional[str]:
    """ "pandas", "pyarrow" or "polars" for a frame of theirs (by its type's module: nothing is imported)."""
    cls = type(obj)
    root = cls.__module__.split(".", 1)[0]
    if root == "pandas" and cls.__name__ == "DataFrame":
        return "pandas"
    if root == "pyarrow" and cls.__name__ in ("Table", "RecordBatch"):
        return "pyarrow"
    if root == "polars" and cls.__name__ in ("DataFrame", "LazyFrame"):
        return "polars"
    return None


def is_frame(obj: Any) -> bool:
    """Whether ``obj`` is a pandas DataFrame, a pyarrow Table or RecordBatch, or a polars DataFrame.

    >>> is_frame(["1 |f a"]), is_frame(b"1 |f a")
    (False, False)
    """
    return _library(obj) is not None


def _column_names(frame: Any, lib: str) -> List[Any]:
    if lib == "pandas":
        return list(frame.columns)
    if lib == "pyarrow":
        return list(frame.schema.names)
    return list(frame.columns)


def _check_namespace(ns: Any) -> str:
    if not isinstance(ns, str):
        raise TypeError(f"a namespace name is a str, not {type(ns).__name__}: {ns!r}")
    if any(c in ns for c in " \t|:\r\n"):
        raise ValueError(f"namespace name {ns!r}: no spaces, tabs, '|' or ':' (VW's text could not name it)")
    return ns


# ---------------------------------------------------------------- one column as buffers


def _numbers(values: Any, nulls: Any, what: str) -> Tuple[Any, Any]:
    import numpy as np

    values = np.ascontiguousarray(values)
    if values.dtype.kind == "f" and values.dtype.itemsize not in (4, 8):
        values = values.astype(np.float64)
    if values.dtype.kind not in "fiub":
        raise TypeError(f"{what}: not a column of numbers (dtype {values.dtype})")
    if nulls is not None:
        nulls = np.ascontiguousarray(nulls, dtype=np.bool_)
        if not nulls.any():
            nulls = None
    return values, nulls


def _codes(codes: Any) -> Any:
    import numpy as np

    codes = np.ascontiguousarray(codes)
    if codes.dtype.kind not in "iu":
        codes = codes.astype(np.int64)
    return codes


def _pandas_column(s: Any, what: str, numbers_only: bool) -> Tuple[Any, Any, Optional[List[str]]]:
    import numpy as np
    import pandas as pd

    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if numbers_only:
            raise TypeError(f"{what}: a categorical column; a label or weight is numbers")
        return _codes(s.cat.codes.to_numpy()), None, [str(c) for c in dtype.categories]
    if isinstance(dtype, np.dtype):
        if dtype.kind in "fiub":
            v, n = _numbers(s.to_numpy(), None, what)
            return v, n, None
    elif pd.api.types.is_bool_dtype(dtype) or (pd.api.types.is_numeric_dtype(dtype) and hasattr(dtype, "numpy_dtype")):
        # nullable (Int64, Float64, boolean) and arrow-backed numbers: values with nulls as 0, and the mask
        nd = np.dtype(dtype.numpy_dtype) if hasattr(dtype, "numpy_dtype") else np.dtype(np.bool_)
        if nd.kind in "fiub":
            v, n = _numbers(s.to_numpy(dtype=nd, na_value=nd.type(0)), s.isna().to_numpy(), what)
            return v, n, None
    if numbers_only:
        raise TypeError(f"{what}: a label or weight is a column of numbers, not {dtype}")
    if hasattr(s.array, "__arrow_array__") and pd.api.types.is_string_dtype(dtype):
        # arrow-backed strings (pandas' default str dtype with pyarrow installed): arrow's dictionary
        # encoding, on the same memory
        import pyarrow as pa

        return _arrow_column(pa.array(s.array), what, numbers_only)
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        return _codes(codes), None, [u if isinstance(u, str) else str(u) for u in uniques]
    raise TypeError(f"{what}: dtype {dtype} is neither numbers nor strings/categories")


def _arrow_column(col: Any, what: str, numbers_only: bool) -> Tuple[Any, Any, Optional[List[str]]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    t = arr.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        if pa.types.is_float16(t):
            arr = arr.cast(pa.float32())
        nulls = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
        filled = arr.fill_null(False if pa.types.is_boolean(t) else 0) if arr.null_count else arr
        v, n = _numbers(filled.to_numpy(zero_copy_only=False), nulls, what)
        return v, n, None
    if numbers_only:
        raise TypeError(f"{what}: a label or weight is a column of numbers, not {t}")
    if pa.types.is_string(t) or pa.types.is_large_string(t) or getattr(pa.types, "is_string_view", bool)(t):
        arr = arr.dictionary_encode()
        t = arr.type
    if pa.types.is_dictionary(t):
        idx = arr.indices
        codes = (pc.cast(idx, pa.int64()).fill_null(-1) if idx.null_count else idx).to_numpy(zero_copy_only=False)
        cats = arr.dictionary.to_pylist()
        if not (pa.types.is_string(arr.dictionary.type) or pa.types.is_large_string(arr.dictionary.type)):
            cats = [c if isinstance(c, str) else str(c) for c in cats]
        return _codes(codes), None, cats
    raise TypeError(f"{what}: arrow type {t} is neither numbers nor strings/dictionary")


def _polars_column(s: Any, what: str, numbers_only: bool) -> Tuple[Any, Any, Optional[List[str]]]:
    import polars as pl

    dt = s.dtype
    if dt.is_numeric() or dt == pl.Boolean:
        nulls = s.is_null().to_numpy() if s.null_count() else None
        filled = s.fill_null(False if dt == pl.Boolean else 0) if s.null_count() else s
        v, n = _numbers(filled.to_numpy(), nulls, what)
        return v, n, None
    if numbers_only:
        raise TypeError(f"{what}: a label or weight is a column of numbers, not {dt}")
    if dt in (pl.String, pl.Categorical) or isinstance(dt, (pl.Categorical, pl.Enum)):
        # the distinct values in order of appearance, then each row's code into them (an Enum's physical codes)
        text = s.cast(pl.String)
        uniques = text.drop_nulls().unique(maintain_order=True)
        codes = text.cast(pl.Enum(uniques.to_list())).to_physical().cast(pl.Int64).fill_null(-1).to_numpy()
        return _codes(codes), None, uniques.to_list()
    raise TypeError(f"{what}: polars dtype {dt} is neither numbers nor strings/categories")


def _column(frame: Any, lib: str, name: Any, numbers_only: bool = False) -> Tuple[Any, Any, Optional[List[str]]]:
    what = f"column {name!r}"
    if lib == "pandas":
        s = frame[name]
        if not hasattr(s, "dtype"):  # a repeated column name gives a frame
            raise ValueError(f"{what}: the frame has several columns of that name")
        return _pandas_column(s, what, numbers_only)
    if lib == "pyarrow":
        return _arrow_column(frame.column(name), what, numbers_only)
    return _polars_column(frame[name], what, numbers_only)


def frame_columns(
    frame: Any, label: Any, namespaces: Optional[Mapping[str, Sequence[Any]]], weight: Any
) -> Tuple[List[Column], Any, Any, int]:
    """The core's view of a frame: (feature columns, label (values, nulls) or None, weight likewise,
    rows). Raises KeyError for a column the frame lacks, TypeError for a column of another type."""
    lib = _library(frame)
    if lib is None:
        raise TypeError(f"not a data frame (pandas, pyarrow or polars): {type(frame).__name__}")
    if lib == "polars" and type(frame).__name__ == "LazyFrame":
        raise TypeError("a polars LazyFrame: collect() it first (the core reads the columns' memory)")
    names = _column_names(frame, lib)
    present = set(names)
    for role, col in (("label", label), ("weight", weight)):
        if col is not None and col not in present:
            raise KeyError(f"{role} column {col!r} is not in the frame (columns: {names})")
    if namespaces is None:
        namespaces = {"": [c for c in names if c != label and c != weight]}
    if not isinstance(namespaces, Mapping):
        raise TypeError("namespaces= is a dict {namespace: [column, ...]}")
    cols: List[Column] = []
    for ns, members in namespaces.items():
        ns = _check_namespace(ns)
        if isinstance(members, (str, bytes)) or not isinstance(members, Sequence):
            raise TypeError(f"namespace {ns!r}: a list of column names, not {members!r}")
        for name in members:
            if name not in present:
                raise KeyError(f"column {name!r} (namespace {ns!r}) is not in the frame (columns: {names})")
            values, nulls, cats = _column(frame, lib, name)
            cols.append((ns, str(name), values, nulls, cats))
    rows = frame.num_rows if lib == "pyarrow" else len(frame)

    def per_row(col: Any) -> Any:
        if col is None:
            return None
        values, nulls, _ = _column(frame, lib, col, numbers_only=True)
        return (values, nulls)

    return cols, per_row(label), per_row(weight), int(rows)


def run(
    model: "Model",
    frame: Any,
    *,
    learn: bool,
    label: Any = None,
    namespaces: Optional[Mapping[str, Sequence[Any]]] = None,
    weight: Any = None,
    strict: bool = True,
    threads: Optional[int] = None,
    save_every: int = 0,
    store: Optional["ModelStore"] = None,
    progress: Optional["Bar"] = None,
) -> "np.ndarray":
    """Learn from (or predict) every row of ``frame``: the progressive predictions (float32, one per
    row; NaN for a row refused with ``strict=False``), as :meth:`wabbit.Model.learn_many` returns
    them for text. A refused row (an infinite value or label, a negative weight) raises ValueError
    naming it (0-based) with ``strict=True``, after the rows before it were learned."""
    core = model.core
    if core.is_cb():
        raise TypeError("a data frame's rows are single examples; a contextual-bandit model learns events")
    if core.is_mc():
        raise TypeError("data frames go with linear models; a multiclass model (--oaa, --csoaa) takes text for now")
    if learn and label is None:
        raise ValueError("learning from a data frame needs label= (the label column; a null label: unlabelled row)")
    cols, y, w, rows = frame_columns(frame, label, namespaces, weight)
    opts: Dict[str, Any] = {"learn": learn, "strict": strict, "collect": True, "account": learn}

    def go(o: Dict[str, Any]) -> Dict[str, Any]:
        return core.run_frame(cols, y, w, rows, runs.threaded(model, o, threads))

    res = (
        runs.learning_run(model, "<frame>", go, opts, save_every=save_every, store=store, progress=progress)
        if learn
        else go(opts)
    )
    for msg in res["warnings"]:
        warnings.warn(f"malformed example skipped: {msg}", stacklevel=3)
    return res["predictions"]
