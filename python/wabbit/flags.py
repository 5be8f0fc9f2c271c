"""How a flag is declared and parsed: the machinery behind :class:`wabbit.options.Options`.

A flag is a dataclass field declared with :func:`option`, :func:`switch` or :func:`repeated`
(names, help, default, whether it defines the model). From those fields come the flag table
(:func:`flag_table`), the VW-style tokenizer (:func:`parse_into`), the ``--help`` text
(:func:`help_text`) and the argparse parsers of the subcommands (:func:`subcommand_parser`). What
the flags *mean* (VW's defaulting rules) is not here: see :mod:`wabbit.resolve`.

>>> @dataclasses.dataclass
... class Tiny:
...     bits: Optional[int] = option("-b", "--bits", help="table bits", default=18)
...     fast: bool = switch("--fast", help="go fast")
>>> parse_into(Tiny(), "-b20 --fast", {})
Tiny(bits=20, fast=True)
>>> print(help_text(flag_table(Tiny).flags))
  -b, --bits ARG
      table bits (default 18)
  --fast
      go fast
"""

from __future__ import annotations

import dataclasses
import math
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

import wabbit._core as _core

if TYPE_CHECKING:
    import argparse

__all__ = [
    "OptionError",
    "Flag",
    "FlagTable",
    "option",
    "switch",
    "repeated",
    "flag_table",
    "parse_into",
    "help_text",
    "format_value",
    "subcommand_parser",
    "parse_subcommand",
]


class OptionError(ValueError):
    """A flag is unknown, lacks its value, or has a value of the wrong kind."""


@dataclass(frozen=True)
class Flag:
    """One flag as its declaration (a field of :class:`Options`) defines it."""

    dest: str
    names: Tuple[str, ...]  # e.g. ("-b", "--bit_precision")
    kind: str  # "bool", "int", "float", "str", "list"
    help: str  # with "(default X)" from the declared default
    model: bool = False  # defines the model: stored in the model file
    structural: bool = False  # cannot change when continuing from a saved model
    default: Any = None  # the value when not given (None: none declared, or it depends on other flags)


# The learner's declared defaults (cpp/core/config.h, cpp/cb/config.h): a flag that maps to a core
# field names it (``core="power_t"``, ``core="cb.epsilon"``) instead of repeating its number.
_CORE_DEFAULTS: Dict[str, Any] = _core.config_defaults()


def _spec(
    names: Tuple[str, ...],
    help: str,
    model: bool,
    structural: bool,
    core: Optional[str],
    default: Any,
    note: str,
    **argparse_only: Any,
) -> Dict[str, Any]:
    if core is not None:
        table: Any = _CORE_DEFAULTS
        for part in core.split("."):
            table = table[part]
        default = table
    return {
        "flag": {
            "names": names,
            "help": help,
            "model": model,
            "structural": structural,
            "default": default,
            "note": note,
            **argparse_only,
        }
    }


def option(
    *names: str,
    help: str,
    model: bool = False,
    structural: bool = False,
    core: Optional[str] = None,
    default: Any = None,
    note: str = "",
    required: bool = False,
    choices: Optional[Sequence[str]] = None,
    metavar: Optional[str] = None,
) -> Any:
    """Declares a flag with a value (its kind, int/float/str, from the field's annotation); the
    field is None when the flag is not given. ``core`` names the core field whose declared default
    applies (``"power_t"``, ``"cb.epsilon"``); ``default`` declares one otherwise; either is shown in
    the help as "(default X; note)". ``required``, ``choices`` and ``metavar`` serve subcommands."""
    extra = {"required": required, "choices": choices, "metavar": metavar}
    return field(default=None, metadata=_spec(names, help, model, structural, core, default, note, **extra))


def switch(*names: str, help: str, model: bool = False, structural: bool = False) -> Any:
    """Declares a flag without a value: False unless given."""
    return field(default=False, metadata=_spec(names, help, model, structural, None, None, ""))


def repeated(*names: str, help: str, model: bool = False, structural: bool = False) -> Any:
    """Declares a flag that may be given several times: the list of its values."""
    return field(default_factory=list, metadata=_spec(names, help, model, structural, None, None, ""))


def format_value(v: Any) -> str:
    """A flag's value as text that parses back to it (``10.0`` as ``10``, infinity as ``inf``)."""
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)  # "inf", "-inf": read back by float()
    if isinstance(v, float):
        return repr(v) if v != int(v) else str(int(v)) if abs(v) < 1e15 else repr(v)
    return str(v)


def _kind(f: "dataclasses.Field[Any]") -> str:
    annotation = str(f.type)
    if annotation == "bool":
        return "bool"
    if annotation.startswith("List"):
        return "list"
    return next(k for k in ("int", "float", "str") if k in annotation)


def _help(spec: Dict[str, Any]) -> str:
    help, default, note = spec["help"], spec["default"], spec["note"]
    if default is not None:
        help += f" (default {format_value(default)}{'; ' + note if note else ''})"
    return str(help)


class FlagTable:
    """The flags a declaring dataclass defines, in field order, and the ways to look one up."""

    def __init__(self, declared: type) -> None:
        self.flags: List[Flag] = []
        for f in dataclasses.fields(declared):
            spec = f.metadata["flag"]
            self.flags.append(
                Flag(f.name, spec["names"], _kind(f), _help(spec), spec["model"], spec["structural"], spec["default"])
            )
        self.by_name: Dict[str, Flag] = {n: f for f in self.flags for n in f.names}
        self.by_dest: Dict[str, Flag] = {f.dest: f for f in self.flags}
        # Keyword spellings accepted by Model(**options): the dest and every flag name without dashes.
        self.keywords: Dict[str, Flag] = {**{n.lstrip("-"): f for f in self.flags for n in f.names}, **self.by_dest}


_TABLES: Dict[type, FlagTable] = {}


def flag_table(declared: type) -> FlagTable:
    """The flag table of a dataclass whose fields are declared with option/switch/repeated (made
    once per class)."""
    table = _TABLES.get(declared)
    if table is None:
        table = _TABLES[declared] = FlagTable(declared)
    return table


def _convert(flag: Flag, name: str, raw: str) -> Any:
    try:
        if flag.kind == "int":
            return int(raw)
        if flag.kind == "float":
            return float(raw)
    except ValueError:
        kind = "an integer" if flag.kind == "int" else "a number"
        raise OptionError(f"{name} takes {kind}, got {raw!r}") from None
    return raw


_Declared = TypeVar("_Declared")


def parse_into(target: _Declared, args: Union[str, Sequence[str]], keywords: Mapping[str, Any]) -> _Declared:
    """Set ``target``'s fields from VW-style flags (a string or a list of tokens), then from keyword
    options (the long or short flag names without dashes, or the field names); returns ``target``."""
    table = flag_table(type(target))
    try:
        tokens = shlex.split(args) if isinstance(args, str) else list(args)
    except ValueError as e:  # an unbalanced quote: shlex's "No closing quotation" is a flag error
        raise OptionError(f"cannot split the flags {args!r} into tokens: {e}") from None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        value: Optional[str] = None
        name = tok
        if tok.startswith("--") and "=" in tok:
            name, value = tok.split("=", 1)
        flag = table.by_name.get(name)
        if flag is None and tok.startswith("-") and not tok.startswith("--") and len(tok) > 2:
            # -b24 / -qab: a short flag glued to its value
            flag = table.by_name.get(tok[:2])
            if flag is not None and flag.kind != "bool":
                name, value = tok[:2], tok[2:]
            else:
                flag = None
        if flag is None:
            if not tok.startswith("-"):
                raise OptionError(f"unexpected argument {tok!r} (input files go after -d)")
            raise OptionError(f"unknown option {name!r}; run 'wabbit --help' for the supported flags")
        i += 1
        if flag.kind == "bool":
            if value is not None:
                raise OptionError(f"{name} takes no value")
            setattr(target, flag.dest, True)
            continue
        if value is None:
            if i >= len(tokens):
                raise OptionError(f"{name} needs a value")
            value = tokens[i]
            i += 1
        if flag.kind == "list":
            getattr(target, flag.dest).append(value)
        else:
            setattr(target, flag.dest, _convert(flag, name, value))
    for key, value in keywords.items():
        flag = table.keywords.get(key)
        if flag is None:
            raise OptionError(f"unknown option {key!r}")
        if flag.kind == "bool":
            setattr(target, flag.dest, bool(value))
        elif flag.kind == "list":
            items = [value] if isinstance(value, str) else list(value)
            getattr(target, flag.dest).extend(str(v) for v in items)
        elif value is None:
            setattr(target, flag.dest, None)
        elif flag.kind == "str":
            setattr(target, flag.dest, str(value))
        else:
            setattr(target, flag.dest, _convert(flag, key, str(value)))
    return target


def help_text(flags: Sequence[Flag]) -> str:
    """One entry per flag (its names, then its help on the next line), for ``--help``."""
    lines = []
    for f in flags:
        names = ", ".join(f.names)
        arg = "" if f.kind == "bool" else " ARG"
        lines.append(f"  {names}{arg}\n      {f.help}")
    return "\n".join(lines)


def subcommand_parser(declared: type, prog: str, description: Optional[str]) -> "argparse.ArgumentParser":
    """The parser of a subcommand (``wabbit ope``, ``wabbit inspect``, ``wabbit demo``) from a
    dataclass whose fields are declared as :class:`Options`'s are (:func:`option`, :func:`switch`,
    :func:`repeated`): names, help with "(default X)" and defaults come from those declarations. A
    name without a dash is a positional argument.

    >>> @dataclasses.dataclass
    ... class Demo:
    ...     lines: Optional[int] = option("--lines", help="lines to make", default=10)
    >>> parse_subcommand(Demo, subcommand_parser(Demo, "demo", None), ["--lines", "3"])
    Demo(lines=3)
    >>> subcommand_parser(Demo, "demo", None).format_help().split("--lines LINES")[-1].split()
    ['lines', 'to', 'make', '(default', '10)']
    """
    import argparse

    p = argparse.ArgumentParser(prog=prog, description=description)
    for f in dataclasses.fields(declared):
        spec, kind = f.metadata["flag"], _kind(f)
        kw: Dict[str, Any] = {"help": _help(spec).replace("%", "%%")}
        if kind == "bool":
            kw["action"] = "store_true"
        elif kind == "list":
            kw.update(action="append", default=[])
        else:
            kw.update(type={"int": int, "float": float, "str": str}[kind], default=spec["default"])
            for key in ("choices", "metavar"):
                if spec.get(key) is not None:
                    kw[key] = spec[key]
        names = spec["names"]
        if names[0].startswith("-"):
            kw["dest"] = f.name
            if spec.get("required"):
                kw["required"] = True
            p.add_argument(*names, **kw)
        else:
            kw.pop("default", None)
            p.add_argument(f.name, **kw)
    return p


def parse_subcommand(declared: Type[_Declared], parser: "argparse.ArgumentParser", argv: Sequence[str]) -> _Declared:
    """The subcommand's arguments as an instance of its declaring dataclass."""
    return declared(**vars(parser.parse_args(list(argv))))
