"""Writing evaluate() results: a JSON file, and a plain-text table with the protocol of every number."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_results(result: dict[str, Any], path: str | Path) -> Path:
    """Write an evaluate() result as JSON (atomically: a temp file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table: one row per number, with the protocol it was measured under."""
    rows = [("metric", "value", "samples", "reference", "features")]
    for name, entry in result["metrics"].items():
        p = entry["protocol"]
        ref = p["reference"]
        size = f" ({ref['size']:,})" if ref.get("size") else ""
        reference = f"{ref['spec'] or ref.get('features_from', '-')}{size}"
        for key, value in entry["values"].items():
            label = name if key == name else f"{name}.{key}"
            text = f"{value:.6g}" if isinstance(value, float) else str(value)
            rows.append((label, text, f"{p['num_samples']:,}", reference, p["features"] or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.rjust(w) if i in (1, 2) else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    against = result["data"] or "published reference statistics"
    return "\n".join([f"{result['model']} on {against}, seed {_seed(result)}"] + lines + _notes(result))


def _notes(result: dict[str, Any]) -> list[str]:
    """The lines under the table: protocol, where reference features came from, degenerate numbers, warnings."""
    notes = []
    if result.get("protocol"):
        notes.append(f"protocol {result['protocol']['name']}: {result['protocol']['summary']}")
    metrics = result["metrics"]
    sizes = {_scored_at(e["protocol"]) for e in metrics.values()} - {None}
    notes += [f"samples scored at {size}" for size in sorted(sizes)]
    sources = {e["protocol"]["reference"].get("features_from") for e in metrics.values()} - {None, "not used"}
    notes += [f"reference features: {source}" for source in sorted(sources)]
    notes += [f"degenerate {name}: {entry['degenerate']}" for name, entry in metrics.items() if entry.get("degenerate")]
    notes += [f"warning {name}: {w}" for name, entry in metrics.items() for w in entry.get("warnings", [])]
    return notes


def _scored_at(protocol: dict[str, Any]) -> str | None:
    """ "64x64 RGB (from 10,000 images of 64x64)": the evaluation size a protocol records, None without one."""
    if "image_size" not in protocol:
        return None
    size, files = protocol["image_size"], protocol.get("files")
    text = f"{size}x{size} {'RGB' if protocol.get('channels') == 3 else 'grayscale'}"
    return f"{text} (from {files})" if files else text


def _seed(result: dict[str, Any]) -> Any:
    seeds = {entry["protocol"]["seed"] for entry in result["metrics"].values()}
    return seeds.pop() if len(seeds) == 1 else sorted(seeds)
