"""What `ganzoo bench` writes beside results.json: results.md (the table) and results.png (grids and curves)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def headline_values(metrics: dict[str, Any]) -> dict[str, float]:
    """Every metric's numbers (protocols left out): {"modes": 8, "modes.hq_fraction": 0.62, ...}.

    A value is listed as "metric.key"; the headline also as plain "metric" when its key is the metric's name
    (modes), so mnist_digits's headline appears once, as "mnist_digits.mnist_fd".
    """

    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    flat: dict[str, float] = {}
    for name, record in metrics.items():
        values = record.get("values", {})
        if number(record.get("value")) and next(iter(values), name) == name:  # else it is listed as name.key below
            flat[name] = float(record["value"])
        flat.update({f"{name}.{key}": float(v) for key, v in values.items() if key != name and number(v)})
    return flat


def results_markdown(result: dict[str, Any]) -> str:
    summary = result["summary"]
    keys = sorted(set().union(*(s["final"] for s in summary.values())))
    budget = f"{result['budget']['steps']} steps" if result["budget"]["steps"] else f"{result['budget']['seconds']} s"
    lines = [
        f"# ganzoo bench on `{result['data']}`",
        "",
        f"Budget {budget} per run, {result['seeds']} seed(s), batch {result['batch_size']}, "
        f"device {result['device']}"
        f"{', EMA ' + str(result['ema']) + ' of each generator (evaluated)' if result.get('ema') else ''}; "
        f"metrics after each of {result['evals']} equal segments. Final metrics are mean ± sd over seeds"
        f"{' (sd n/a: one seed has no spread)' if result['seeds'] == 1 else ''}.",
        "",
    ]
    memory = "peak GPU memory (MB)" if result["device"].startswith("cuda") else "peak RSS (MB)"
    header = ["variant", "parameters", "images/s", memory] + keys
    if result["threshold"]:
        key, level, op = (*result["threshold"], ">=")[:3]
        header.append(f"time to {key} {op} {level:g} (s)")
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, s in summary.items():
        row = [
            f"{name} (degenerate, see notes)" if s.get("degenerate") else name,
            f"{s['parameters']:,}",
            f"{s['images_per_s']:.0f}",
            f"{s['peak_memory_mb']:.0f}" if s["peak_memory_mb"] else "n/a",
        ]
        row += [_mean_sd(s["final"][k]) if k in s["final"] else "-" for k in keys]
        if result["threshold"]:
            row.append(", ".join("never" if t is None else f"{t:.0f}" for t in s["time_to_threshold"]))
        lines.append("| " + " | ".join(row) + " |")
    protocols = {}
    for run in result["runs"]:
        for name, record in run["curve"][-1]["metrics"].items():
            protocols.setdefault(name, record.get("protocol"))
    notes = [f"- {name}, {note}" for name, s in summary.items() for note in s.get("degenerate", [])]
    if notes:
        lines += ["", "Degenerate evaluations (these numbers are no measurement of the variant):", ""] + notes
    lines += ["", "Protocols:", ""] + [f"- `{name}`: {json.dumps(p)}" for name, p in protocols.items()]
    lines += ["", "![samples and curves](results.png)", ""]
    return "\n".join(lines)


def _mean_sd(stat: dict[str, Any]) -> str:
    return f"{stat['mean']:.4g} ± {'n/a' if stat['sd'] is None else format(stat['sd'], '.2g')}"


def results_picture(result: dict[str, Any], path: Path) -> None:
    """Final sample grids side by side (first seed), over the curve of the first metric against training time."""
    from PIL import Image, ImageDraw

    variants = list(result["summary"])
    grids = {}
    for run in result["runs"]:
        if run["seed"] == 0 and Path(run["samples"]).exists():
            grids[run["variant"]] = Image.open(run["samples"]).convert("RGB")
    tile = 256
    width = max(tile * max(len(variants), 1), 640)
    picture = Image.new("RGB", (width, tile + 40 + 300), "white")
    draw = ImageDraw.Draw(picture)
    for i, name in enumerate(variants):
        if name in grids:
            picture.paste(grids[name].resize((tile - 8, tile - 8)), (i * tile + 4, 24))
        draw.text((i * tile + 6, 6), name, fill="black")
    _curves(draw, result, box=(50, tile + 60, width - 20, tile + 40 + 270))
    picture.save(path)


COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _curves(draw, result: dict[str, Any], box: tuple[int, int, int, int]) -> None:
    # the curve shows the thresholded value, or else the first metric's headline
    final = headline_values(result["runs"][0]["curve"][-1]["metrics"])
    wanted = result["threshold"][0] if result["threshold"] else None
    first = wanted if wanted in final else next(iter(final), None)
    if first is None:
        return
    series = []
    for run in result["runs"]:
        pts = [(p["train_seconds"], headline_values(p["metrics"]).get(first)) for p in run["curve"]]
        series.append((run["variant"], [(t, v) for t, v in pts if v is not None and math.isfinite(v)]))
    values = [v for _, pts in series for _, v in pts] or [0.0, 1.0]
    times = [t for _, pts in series for t, _ in pts] or [0.0, 1.0]
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1
    t_max = max(times) or 1.0
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline="black")
    draw.text((x0, y0 - 16), f"{first} vs training seconds (0 .. {t_max:.0f} s; {lo:.3g} .. {hi:.3g})", fill="black")
    variants = list(result["summary"])
    for name, pts in series:
        colour = COLOURS[variants.index(name) % len(COLOURS)]
        xy = [(x0 + (x1 - x0) * t / t_max, y1 - (y1 - y0) * (v - lo) / (hi - lo)) for t, v in pts]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2)
        for x, y in xy:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
    for i, name in enumerate(variants):
        draw.text((x0 + 8, y0 + 6 + 14 * i), name, fill=COLOURS[i % len(COLOURS)])
