"""`ganzoo demo`: a local web page to explore a model (catalog name, run or folder), and Hugging Face Space files.

The page is ganzoo.demo_app's Gradio app beside the model's card. It binds to 127.0.0.1 unless told
otherwise, shares publicly only with ``--share`` (passed to Gradio), and loads the model the way
``ganzoo.load`` does: weights and config.json only, never code from the model's folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .hf import HUB_PREFIX

if TYPE_CHECKING:  # importing this module (the CLI does) must not import torch
    from .model import GanModel

DEMO_HINT = "ganzoo demo needs Gradio: pip install 'torch-ganzoo[demo]'"
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def card_markdown(model: GanModel, name: str) -> str:
    """The model card shown beside the demo: family, data, metrics with protocol, licence."""
    from .plugins import get_state

    v = model.variant
    models = get_state().models
    if name in models:
        entry = models.get(name)
        lines = [
            f"## {name}",
            "",
            entry.summary + ".",
            "",
            f"**Family**: {v.name}: {v.summary}.",
            "",
            f"**Paper**: {v.paper}",
            "",
            f"**Data**: `{entry.dataset}`",
            "",
            "**Metrics**:",
            "",
        ]
        lines += [_metric_line(k, val) for k, val in entry.metrics.items()] or ["- not measured"]
        return "\n".join([*lines, "", f"**Licence**: {entry.license}", "", f"**Recipe**: `{entry.recipe}`"])
    readme = _readme(name)
    if readme is not None:
        front = FRONT_MATTER.match(readme)
        licence = re.search(r"^license:\s*(\S+)", front.group(1), re.M) if front else None
        body = readme[front.end() :] if front else readme
        return body.strip() + f"\n\n**Licence**: {licence.group(1) if licence else 'not stated'}\n"
    lines = [f"## {name}", "", f"**Family**: {v.name}: {v.summary}.", "", f"**Paper**: {v.paper}", ""]
    data = _recorded_data(name)
    if data:
        lines += [f"**Data**: `{data}`", ""]
    return "\n".join([*lines, "**Metrics**: not measured (a training run)", "", "**Licence**: not stated"])


def _metric_line(key: str, value: Any) -> str:
    if isinstance(value, dict):
        return f"- **{key}**: {value.get('value')} (protocol: {value.get('protocol', 'not stated')})"
    return f"- **{key}**: {value}"


def _readme(name: str) -> str | None:
    """A published folder's README.md (its model card), local or from the Hub; None for a run folder."""
    from .pretrained.folder import CARD_FILE
    from .pretrained.names import download

    if name.startswith(HUB_PREFIX):
        repo_id, _, revision = name[len(HUB_PREFIX) :].partition("@")
        path = download(repo_id, revision=revision or None) / CARD_FILE
    else:
        path = Path(name) / CARD_FILE
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None


def _recorded_data(name: str) -> str | None:
    from .pretrained.folder import CONFIG_FILE

    path = Path(name) / CONFIG_FILE
    try:
        data = json.loads(path.read_text()).get("data") if path.is_file() else None
    except (OSError, ValueError, AttributeError):
        return None
    return data.get("spec") if isinstance(data, dict) else None


def make_demo(name: str, *, revision: str | None = None, device: str | None = None) -> Any:
    """The Gradio page for the model ``name`` (anything ganzoo.load takes)."""
    from .demo_app import build_demo
    from .pretrained.names import load

    _require_gradio()
    model = load(name, revision=revision, device=device)
    return build_demo(model, title=name, card=card_markdown(model, name))


def _require_gradio() -> None:
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise ImportError(DEMO_HINT) from None


SPACE_MARK = "written by `ganzoo demo --write-space`"  # what marks a Space file as ganzoo's, safe to rewrite


def space_files(name: str) -> dict[str, str]:
    """app.py, requirements.txt and README.md of a Hugging Face Space serving the demo of ``name``."""
    target = name if name.startswith(HUB_PREFIX) or not REPO_ID.fullmatch(name) else HUB_PREFIX + name
    app = "\n".join(
        [
            f'"""The ganzoo demo of {target} ({SPACE_MARK})."""',
            "",
            "from ganzoo.demo import make_demo",
            "",
            f"demo = make_demo({target!r})",
            "",
            'if __name__ == "__main__":',
            "    demo.launch()",
            "",
        ]
    )
    title = target.split("/")[-1].split(":")[-1]
    readme = "\n".join(
        [
            "---",
            f"title: {title}",
            "sdk: gradio",
            "app_file: app.py",
            "pinned: false",
            "tags:",
            "- ganzoo",
            "- gan",
            "---",
            "",
            f"The [ganzoo](https://pypi.org/project/torch-ganzoo/) demo of `{target}`: samples, "
            "truncation, classes, latent walks, style mixing or translation, beside the model card.",
            "",
        ]
    )
    requirements = f"# {SPACE_MARK}\ntorch-ganzoo[demo]\n"
    return {"app.py": app, "requirements.txt": requirements, "README.md": f"{readme}\n<!-- {SPACE_MARK} -->\n"}


def write_space(folder: str | Path, name: str) -> list[Path]:
    """Write the Space files for ``name`` into ``folder``; refuses to overwrite files it did not write."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = space_files(name)
    for file in files:
        path = folder / file
        if path.exists() and (not path.is_file() or SPACE_MARK not in path.read_text(errors="replace")):
            raise click.ClickException(f"{path} exists and was not written by ganzoo: choose another folder")
    written = []
    for file, text in files.items():
        (folder / file).write_text(text)
        written.append(folder / file)
    return written


@click.command("demo")
@click.argument("name")
@click.option("--host", default="127.0.0.1", help="Address to bind (127.0.0.1: this machine only).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Port.  [default: Gradio's, 7860 or the next free one]"
)
@click.option("--share", is_flag=True, help="Also serve it through a public Gradio share link.")
@click.option("--device", default="cpu", help="cpu, cuda, cuda:N.")
@click.option("--revision", help="Hub revision (branch, tag or commit) to load.")
@click.option(
    "--write-space",
    "space_dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Write a Hugging Face Space (app.py, requirements.txt, README.md) for NAME into DIR instead.",
)
def demo_command(
    name: str, host: str, port: int | None, share: bool, device: str, revision: str | None, space_dir: str | None
) -> None:
    """Open a web page to explore NAME (catalog name, hf-hub:org/repo, published folder or run folder)."""
    if space_dir:
        for path in write_space(space_dir, name):
            click.echo(f"wrote {path}")
        return
    from .registry import UnknownNameError

    try:
        demo = make_demo(name, revision=revision, device=device)
    except UnknownNameError as exc:  # a KeyError: its str() would be quoted
        raise click.ClickException(exc.args[0] if exc.args else str(exc)) from None
    except (ImportError, FileNotFoundError, ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    demo.queue().launch(server_name=host, server_port=port, share=share, inbrowser=False)


if __name__ == "__main__":  # python -m ganzoo.demo NAME: the command before it is registered in the CLI
    demo_command()
