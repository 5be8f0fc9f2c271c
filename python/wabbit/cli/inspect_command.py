"""``wabbit inspect MODEL``: what a model file holds (format, options, weights, online state,
lineage), as text or JSON. A VW model file (``vw -f``) shows what was read from it: VW's header, the
options as VW stored them and as wabbit reads them, the online state and the rows."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from typing import Any, Dict, List, Optional

from wabbit import persistence
from wabbit.cli.process import describe_error
from wabbit.model import Model, from_loaded, read_model_file
from wabbit.options import option, parse_subcommand, subcommand_parser, switch

__all__ = ["InspectArgs", "inspect", "describe_model_file", "format_model_info"]


@dataclasses.dataclass
class InspectArgs:
    model: str = option("model", help="a model file (wabbit -f, Model.save, or VW's vw -f)")
    json: bool = switch("--json", help="print one JSON object instead of text")


def inspect(argv: List[str]) -> int:
    """Print what a model file holds: format and wabbit versions, options, bits, non-zero weights,
    the online state and the lineage (what trained it)."""
    import json

    a = parse_subcommand(InspectArgs, subcommand_parser(InspectArgs, "wabbit inspect", inspect.__doc__), argv)
    try:
        info = describe_model_file(a.model)
    except OSError as e:
        print(f"wabbit: error: {describe_error(e)}", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"wabbit: error: {a.model}: {e}", file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps(info, indent=1))
    else:
        sys.stdout.write(format_model_info(info))
    return 0


def describe_model_file(path: str) -> Dict[str, Any]:
    """What ``wabbit inspect`` prints, as a dict (checksums as integers, times as epoch seconds)."""
    header, blob, checksum = read_model_file(path)
    if header.get("format") == "vw":
        return _describe_vw(path, header, blob, checksum)
    model = from_loaded(header, blob, None, checksum)
    rows, _ = model.weights()
    return {
        "path": path,
        "size": os.path.getsize(path),
        "checksum": checksum,
        "format_version": int(header["format_version"]),
        "wabbit_version": header["wabbit_version"],
        "options": header["args"],
        "bits": int(header["bits"]),
        "stride": int(header["stride"]),
        "predict_only": bool(header["predict_only"]),
        "nonzero_weights": int(len(rows)),
        "state": {k: v for k, v in header["state"].items()},
        "metadata": model.metadata,
        "lineage": model.lineage.to_dict(),
    }


def _describe_vw(path: str, header: Dict[str, Any], blob: Any, checksum: int) -> Dict[str, Any]:
    model, body = persistence.vw_from_loaded(Model, header, blob, None, checksum)
    rows, _ = model.weights()
    return {
        "path": path,
        "size": os.path.getsize(path),
        "format": "vw",
        "checksum": checksum,
        "vw_version": header["vw_version"],
        "vw_checksum": int(header["vw_checksum"]),
        "id": header["id"],
        "vw_options": header["options"].strip(),
        "options": model.args,
        "bits": int(header["bits"]),
        "label_range": [float(header["min_label"]), float(header["max_label"])],
        "saved_state": bool(body["resume"]),
        "floats_per_row": int(body["floats_per_row"]),
        "rows_read": int(body["rows"]),
        "nonzero_weights": int(len(rows)),
        "state": {
            k: body[k]
            for k in (
                "initial_t",
                "t",
                "normalized_sum_norm_x",
                "total_weight",
                "gravity",
                "contraction",
                "example_number",
                "weighted_labeled_examples",
                "sum_loss",
            )
        }
        if body["resume"]
        else {},
    }


def _format_vw_info(info: Dict[str, Any]) -> str:
    out = [
        f"file: {info['path']} ({info['size']} bytes, CRC-32 0x{info['checksum']:08x})",
        f"format: Vowpal Wabbit {info['vw_version']} model file (header checksum 0x{info['vw_checksum']:08x}, checked)",
        f"id: {info['id'] or '(none)'}",
        f"VW options: {info['vw_options'] or '(defaults)'}",
        f"options: {info['options'] or '(defaults)'}",
        f"bits: {info['bits']} ({1 << info['bits']} rows)",
        f"label range: {info['label_range'][0]!r} to {info['label_range'][1]!r}",
        f"rows read: {info['rows_read']} ({info['floats_per_row']} float{'s' if info['floats_per_row'] != 1 else ''}"
        " each)",
        f"non-zero weights: {info['nonzero_weights']}",
        "saved online state: " + ("yes" if info["saved_state"] else "no (weights only: --predict_only_model)"),
    ]
    out += [f"  {k}: {v!r}" for k, v in info["state"].items()]
    return "\n".join(out) + "\n"


def format_model_info(info: Dict[str, Any]) -> str:
    """The text form of :func:`describe_model_file`."""
    if info.get("format") == "vw":
        return _format_vw_info(info)

    def when(t: Optional[float]) -> str:
        return "unknown" if t is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))

    def crc(c: Optional[int]) -> str:
        return "none" if c is None else f"0x{c:08x}"

    out = [
        f"file: {info['path']} ({info['size']} bytes, checksum {crc(info['checksum'])})",
        f"format version: {info['format_version']}",
        f"wabbit version: {info['wabbit_version']}",
        f"options: {info['options'] or '(defaults)'}",
        f"bits: {info['bits']} ({1 << info['bits']} rows, {info['stride']} float{'s' if info['stride'] != 1 else ''} per row)",
        f"non-zero weights: {info['nonzero_weights']}",
        f"predict only: {'yes' if info['predict_only'] else 'no'}",
        "online state:",
    ]
    out += [f"  {k}: {v!r}" for k, v in info["state"].items()]
    lin = info["lineage"]
    out += [
        "lineage:" + ("" if lin["complete"] else " (written without lineage: earlier training unknown)"),
        f"  created: {when(lin['created'])}",
        f"  updated: {when(lin['updated'])}",
        f"  wabbit version: {lin['wabbit_version']}",
        f"  options: {lin['options'] or '(defaults)'}",
        f"  examples: {lin['examples']}" + ("" if lin["complete"] else " recorded"),
        f"  parent checksum: {crc(lin['parent_checksum'])}",
    ]
    if len(lin["ancestors"]) > 1:
        out.append("  ancestors: " + ", ".join(crc(c) for c in lin["ancestors"]))
    out.append(f"  sources: {len(lin['sources'])}")
    for i, s in enumerate(lin["sources"], 1):
        where = ""
        if s["first_line"] is not None:
            last = "?" if s["last_line"] is None else s["last_line"]
            where = f" lines {s['first_line']}-{last},"
        skipped = f", {s['bad_lines']} malformed lines skipped" if s["bad_lines"] else ""
        out.append(
            f"    {i}. {s['source']}:{where} {s['examples']} examples{skipped} "
            f"(generation {s['generation']}, {when(s['finished'])})"
        )
    return "\n".join(out) + "\n"
