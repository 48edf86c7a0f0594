"""A published model's text: the README.md model card (Hub front matter, use, config, metrics, recipe)
and the `ganzoo train` command that reproduces a run.

What differs between families (the pipeline tag, the "Use" lines, a conditional model's class list)
comes from the model's task (ganzoo.tasks); this module only lays the card out.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from ..config import make_config
from ..engine.options import TrainOptions
from ..plugins import get_state

if TYPE_CHECKING:
    from ..model import GanModel

PYPI_PAGE = "https://pypi.org/project/torch-ganzoo/"


def model_card(
    model: GanModel, *, name: str, data: dict, metrics: dict, recipe: str | None, license: str, networks: list[str]
) -> str:
    """README.md with YAML front matter the Hub reads, the metrics with their protocol, and the recipe."""
    v, task = model.variant, model.task
    dataset = str(data.get("spec", "")).split(":")[0]
    tags = ["ganzoo", "gan", v.name, task.pipeline_tag]
    front = ["---", "library_name: ganzoo", f"license: {license}", "tags:"] + [f"- {t}" for t in tags]
    if dataset:
        front += ["datasets:", f"- {'mnist' if dataset.startswith('mnist') else dataset}"]
    front += [f"pipeline_tag: {task.pipeline_tag}", "---", ""]
    lines = [
        f"# {name}",
        "",
        f"A **{v.name}** model for [ganzoo]({PYPI_PAGE}): {v.summary}.",
        "",
        f"Paper: {v.paper}",
        "",
    ]
    lines += ["## Use", "", "```python", "import ganzoo", "", *task.usage(name), "```", ""]
    lines += ["## Config", "", "| key | value |", "|---|---|"]
    lines += [f"| `{k}` | `{val}` |" for k, val in model.config_dict().items()]
    lines += ["", f"Weights in `model.safetensors`: {', '.join(networks)}.", ""]
    if data:
        kind = data.get("kind") or task.data_kinds[0]
        lines += ["## Data", "", f"Trained on `{data.get('spec')}` ({kind} data).", ""]
    lines += task.card_notes()
    lines += ["## Metrics", ""]
    lines += metric_lines(metrics) or ["Not measured."]
    lines += ["", "## Recipe", "", "```", recipe or "(not recorded)", "```", ""]
    return "\n".join(front + lines)


def metric_lines(metrics: dict) -> list[str]:
    """Card lines for {name: value | {"value", "protocol"}} or a whole ganzoo.evaluate() result: every
    number with the protocol it was measured under."""
    if isinstance(metrics.get("metrics"), dict):  # an evaluate() result
        preset = metrics.get("protocol") or {}
        lines = [f"Protocol `{preset['name']}`: {preset['summary']}.", ""] if preset else []
        for name, entry in metrics["metrics"].items():
            for key, value in entry["values"].items():
                label = name if key == name else f"{name}.{key}"
                lines.append(f"- **{label}**: {value:.6g}" if isinstance(value, float) else f"- **{label}**: {value}")
            lines.append(f"  — {protocol_text(entry['protocol'])}")
        return lines
    lines = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            protocol = value.get("protocol", "")
            protocol = protocol_text(protocol) if isinstance(protocol, dict) else protocol
            lines.append(f"- **{key}**: {value.get('value')}" + (f" — protocol: {protocol}" if protocol else ""))
        else:
            lines.append(f"- **{key}**: {value}")
    return lines


def protocol_text(p: dict) -> str:
    """One line from an evaluate() protocol entry: samples, reference, features and their weights, options."""
    ref = p.get("reference") or {}
    where = ref.get("spec") or ref.get("features_from") or "?"
    size = f" ({ref['size']:,} images)" if ref.get("size") else ""
    features = f", features {p['features']} (weights sha256 {p.get('features_sha256')})" if p.get("features") else ""
    options = ", ".join(f"{k}={v}" for k, v in (p.get("options") or {}).items())
    protocol = f", protocol {p['protocol']}" if p.get("protocol") else ""
    return (
        f"{p.get('num_samples', '?'):,} samples (seed {p.get('seed', 0)}) against {where}{size}{features}"
        + (f", options {options}" if options else "")
        + protocol
    )


def recipe_command(record: dict[str, Any]) -> str:
    """The `ganzoo train` command that reproduces a run from its config.json."""
    variant = get_state().variants.get(record["variant"])
    defaults = make_config(variant.load_config_class(), {}).__dict__
    engine_defaults = TrainOptions().__dict__
    source = record["data"].get("source") or {}  # what a Hub data set resolved to: repo, commit, split, columns
    spec = record["data"]["spec"]
    if source.get("repo") and source.get("revision"):  # the exact commit, so the recipe reads the same data
        spec = f"hf:{source['repo']}@{source['revision']}" + (f":{source['split']}" if source.get("split") else "")
    parts = ["ganzoo train", record["variant"], "--data", spec]
    for key in ("image_column", "label_column"):
        if source.get(key):
            parts += ["--" + key.replace("_", "-"), str(source[key])]
    for key, value in record["config"].items():
        if defaults.get(key) != (tuple(value) if isinstance(value, list) else value):
            parts += ["-c", f"{key}={json.dumps(value, separators=(',', ':'))}"]
    for key, value in record["engine"].items():
        if key not in ("progress",) and engine_defaults.get(key) != value:
            flag = "--" + key.replace("_", "-")
            parts += [flag] if value is True else [f"--no-{flag[2:]}"] if value is False else [flag, str(value)]
    parts += ["--out", "runs/" + record["variant"]]
    return " ".join(p if p.startswith("ganzoo ") else shlex.quote(p) for p in parts)
