"""ONNX export of a model's generators (``ganzoo export``), checked against torch by onnxruntime.

Every generator that follows the sampling contract exports without code of its own: the task says
what the graph takes. A sampler takes ``z`` (batch, latent size) and, when conditional, ``labels``
(batch,) int64; a style-based one (``truncation_space = "w"``, see ganzoo.latent) also takes a scalar
``truncation`` psi, applied inside the graph as w = w_avg + psi (w - w_avg). A translator takes
``image`` (batch, C, H, W) and exports one direction per file. Images come out as ``images`` in
[-1, 1], clamped inside the graph as ``model.sample`` does; flat data comes out as ``points``. The
batch axis is dynamic. Networks export in eval mode, so batch norm uses its running statistics,
spectral norm its stored estimate and StyleGAN2 its fixed ("const") noise maps: the file is
deterministic, and equals ``model.sample`` for the same latents. Uses torch.onnx's dynamo exporter
(torch.export); onnx, onnxscript and onnxruntime come with the ``ganzoo[export]`` extra. The traced
graphs are in ganzoo.export_graphs; importing this module imports neither torch nor onnx, so the CLI
registers ``export_command`` without slowing ``ganzoo list``.
"""

from __future__ import annotations

import json
import re
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import __version__

if TYPE_CHECKING:  # importing this module (the CLI does) must not import torch
    import torch

    from .model import GanModel


def __getattr__(name: str) -> Any:
    """``ganzoo.export.ExportError`` without importing torch until it is asked for."""
    if name == "ExportError":
        from .export_graphs import ExportError

        return ExportError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


DEFAULT_OPSET = 18  # the lowest opset torch's dynamo exporter writes natively; onnxruntime >= 1.14 runs it
INSTALL_HINT = "install the export extra: pip install 'torch-ganzoo[export]'"
LARGE_BYTES = 1_800_000_000  # past ~2 GB a protobuf cannot hold the weights: they go to a side file


def export_onnx(
    model: GanModel,
    path: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    direction: str | None = None,
    name: str | None = None,
    card: str | None = None,
    truncation: float | None = None,
) -> Path:
    """Write ``model``'s generator (one ``direction`` of a translator) to an ONNX file at ``path``; returns it.

    Its metadata_props hold the model's name, variant, config JSON, a card summary, the opset and the
    inputs; ``card`` replaces the summary (``card_summary`` builds it from a catalog name or a folder).
    ``truncation`` fixes t in a generator whose layers take it (BigGAN's per-truncation statistics).
    """
    import torch

    from .export_graphs import ExportError, graph_for

    onnx = _require("onnx")
    module, inputs, output = graph_for(model, direction, truncation)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    dynamic = {k: ({0: batch} if v.dim() else None) for k, v in inputs.items()}  # a scalar psi has no batch axis
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*axis name.*will not be used")  # one batch axis, shared
            program = torch.onnx.export(
                module,
                tuple(inputs.values()),
                None,
                input_names=list(inputs),
                output_names=[output],
                opset_version=opset,
                dynamo=True,
                dynamic_shapes=dynamic,
                verbose=False,
            )
    except Exception as exc:
        raise ExportError(
            f"cannot export the {model.variant.name} generator to ONNX (opset {opset}): torch.export "
            f"or the ONNX translation failed: {_root_cause(exc)}"
        ) from exc
    proto = program.model_proto
    meta = metadata(model, name=name, card=card, opset=opset, direction=direction, inputs=inputs, output=output)
    if truncation is not None:
        meta["truncation"] = (
            f"{truncation}: fixed in the graph; draw z as model.sample(truncation={truncation}) "
            f"does (the generator's own truncated prior)"
        )
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name, proto.producer_version, proto.doc_string = "ganzoo", __version__, meta["card"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    large = proto.ByteSize() > LARGE_BYTES
    onnx.save_model(proto, str(path), save_as_external_data=large, location=f"{path.name}.data" if large else None)
    return path


def _root_cause(exc: BaseException) -> str:
    """The innermost cause's first line, without terminal colours: the exporter wraps the reason in steps."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else 'no reason given'}"


def metadata(
    model: GanModel,
    *,
    name: str | None,
    card: str | None,
    opset: int,
    direction: str | None,
    inputs: dict[str, torch.Tensor],
    output: str,
) -> dict[str, str]:
    """The metadata_props of an exported file: what it is, where it came from, how to feed it."""
    task = model.task
    shapes = {k: ["batch", *v.shape[1:]] if v.dim() else [] for k, v in inputs.items()}
    meta = {
        "name": name or model.variant.name,
        "variant": model.variant.name,
        "config": json.dumps(model.config_dict(), default=str, sort_keys=True),
        "card": card or card_summary(model, name),
        "opset": str(opset),
        "ganzoo_version": __version__,
        "task": type(task).__name__,
        "inputs": json.dumps(shapes),
        "output": output,
        "output_range": "[-1, 1]" if output == "images" else "unbounded",
    }
    if task.translates:
        meta["direction"] = direction or "a2b"
    if task.conditional:
        meta["num_classes"] = str(task.num_classes)
        meta["classes"] = json.dumps(list(task.classes) or [str(i) for i in range(task.num_classes)])
    if "truncation" in inputs:
        meta["noise"] = "const: the per-layer noise maps are fixed buffers (eval mode), so output is deterministic"
    return meta


def card_summary(model: GanModel, name: str | None = None) -> str:
    """A few lines of the model card: what it is, its data, metrics with protocol, licence (catalog or folder)."""
    from .plugins import get_state
    from .pretrained.folder import CONFIG_FILE, read_config

    v = model.variant
    lines = [f"{name or v.name}: a {v.name} model ({v.summary})."]
    models = get_state().models
    if name and name in models:
        entry = models.get(name)
        lines += [entry.summary + ".", f"Data: {entry.dataset}.", f"Licence: {entry.license}."]
        for key, value in entry.metrics.items():
            if isinstance(value, dict):
                lines.append(f"Metric {key}: {value.get('value')} (protocol: {value.get('protocol', '')}).")
            else:
                lines.append(f"Metric {key}: {value}.")
    elif name and (Path(name) / CONFIG_FILE).is_file():
        data = read_config(Path(name)).get("data") or {}
        if isinstance(data, dict) and data.get("spec"):
            lines.append(f"Data: {data['spec']}.")
    lines += [note for note in model.task.card_notes() if note]
    return " ".join(lines)


def _require(module: str) -> Any:
    import importlib

    from .export_graphs import ExportError

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExportError(f"ONNX export needs the {module!r} package: {INSTALL_HINT}") from None


def run_onnx(path: str | Path, feeds: dict[str, Any]) -> Any:
    """Run an exported file with onnxruntime on the CPU: the first output, a numpy array."""
    import torch

    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # deterministic and light; small generators gain little from threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in feeds.items()})[0]


def example_feeds(
    model: GanModel, batch: int, *, seed: int = 0, direction: str | None = None, truncation: float = 1.0
) -> dict[str, torch.Tensor]:
    """Fixed inputs for a check: seeded latents (and labels 0, 1, ... mod K), or seeded images in [-1, 1]."""
    import torch

    from .export_graphs import graph_for

    _, inputs, _ = graph_for(model, direction)
    rng = torch.Generator().manual_seed(seed)
    feeds = {}
    for key, example in inputs.items():
        if key == "truncation":
            feeds[key] = torch.tensor(float(truncation))
        elif key == "labels":
            feeds[key] = torch.arange(batch, dtype=torch.int64) % model.task.num_classes
        elif example.dim() == 4:  # images in [-1, 1]
            feeds[key] = torch.rand((batch, *example.shape[1:]), generator=rng) * 2 - 1
        else:
            feeds[key] = torch.randn((batch, *example.shape[1:]), generator=rng)
    return feeds


def torch_reference(model: GanModel, feeds: dict[str, torch.Tensor], direction: str | None = None) -> torch.Tensor:
    """What the exported graph must give for ``feeds``, computed by the eager module it was traced from."""
    import torch

    from .export_graphs import graph_for

    module, _, _ = graph_for(model, direction)
    with torch.no_grad():
        return module(*feeds.values())


def check_export(model: GanModel, *, atol: float = 1e-4, batches: tuple[int, ...] = (1, 3)) -> None:
    """Conformance: each generator (each direction) exports, and onnxruntime matches torch within ``atol``.

    Raises AssertionError naming the variant and what differs; an ExportError says why one cannot export.
    """
    who = model.variant.name
    directions = model.task.directions(model.nets) if model.task.translates else [None]
    with tempfile.TemporaryDirectory() as tmp:
        for direction in directions:
            path = export_onnx(model, Path(tmp) / f"{direction or 'G'}.onnx", direction=direction)
            for batch in batches:
                feeds = example_feeds(model, batch, direction=direction)
                want = torch_reference(model, feeds, direction).numpy()
                got = run_onnx(path, feeds)
                where = f" ({direction})" if direction else ""
                assert got.shape == want.shape, (
                    f"{who}: export{where}: onnxruntime gave shape {got.shape} at batch {batch}, torch {want.shape}"
                )
                diff = float(abs(got - want).max())
                assert diff <= atol, (
                    f"{who}: export{where}: onnxruntime differs from torch by {diff:.3g} (max abs) "
                    f"at batch {batch}, more than {atol}; an op exports with other semantics"
                )


@click.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", help="File format.")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="File to write.  [default: NAME[-DIRECTION].onnx]")
@click.option("--direction", type=click.Choice(["a2b", "b2a"]), help="Translators: which generator.  [default: a2b]")
@click.option("--opset", type=click.IntRange(min=DEFAULT_OPSET), default=DEFAULT_OPSET, help="ONNX opset.")
@click.option(
    "--truncation",
    type=float,
    help="Generators whose layers take it (BigGAN's per-truncation statistics): fix this truncation in the graph.",
)
@click.option("--revision", help="Hub revision (branch, tag or commit) to load.")
def export_command(
    name: str,
    fmt: str,
    out: str | None,
    direction: str | None,
    opset: int,
    truncation: float | None,
    revision: str | None,
) -> None:
    """Export NAME's generator (catalog name, hf-hub:org/repo, published folder or run folder) to ONNX."""
    from .export_graphs import ExportError
    from .pretrained.names import load
    from .registry import UnknownNameError

    try:
        model = load(name, revision=revision)
        target = Path(out) if out else Path(f"{Path(name).name}{'-' + direction if direction else ''}.onnx")
        written = export_onnx(model, target, opset=opset, direction=direction, name=name, truncation=truncation)
    except UnknownNameError as exc:  # a KeyError: its str() would be quoted
        raise click.ClickException(exc.args[0] if exc.args else str(exc)) from None
    except (ExportError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    inputs = json.loads(_read_meta(written).get("inputs", "{}"))
    shown = ", ".join(f"{k} {tuple(v)}" for k, v in inputs.items())
    click.echo(f"wrote {written} (ONNX opset {opset}; inputs: {shown})")


def _read_meta(path: Path) -> dict[str, str]:
    onnx = _require("onnx")
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
