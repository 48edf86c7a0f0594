"""The web page of `ganzoo demo`: a Gradio app over any model, built from what its task says it does.

``Explorer`` holds the model and turns the page's controls into pictures (plain PIL images and a
GIF path, so it is tested without a browser); ``build_demo`` lays the controls out beside the model
card. Samplers get a seed, a grid size, truncation, a class picker by name where the model is
conditional, a latent walk between seeds (a GIF) and, for a style-based generator, style mixing;
translators get an upload box and each direction the model has. Gradio (the ``demo`` extra) is
imported only by ``build_demo``.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import torch

from .latent import has_w_space, save_walk_gif
from .model import GanModel

RANDOM_CLASS = "random"  # the class picker's choice for "draw the classes uniformly"
MAX_GRID = 8  # grid size: up to 8 x 8 samples
POINTS = 2500  # a flat-data model shows this many points, as its previews do
# small images scaled up to fill their box, kept sharp
CSS = ".ganzoo-pixels img { image-rendering: pixelated; width: 100%; height: 100%; object-fit: contain !important; }"


def grid_image(images: torch.Tensor, nrow: int | None = None) -> Any:
    """(N, C, H, W) in [-1, 1] -> one PIL grid (2-pixel gaps, ``nrow`` per row); (N, D) points -> a dot picture."""
    from PIL import Image
    from torchvision.utils import make_grid

    from .engine.outputs import points_picture

    images = images.detach().float().cpu()
    if images.dim() == 2:
        pixels = points_picture(images)  # (1, S, S) in {0, 1}
    else:
        nrow = nrow or max(1, int(math.sqrt(images.shape[0])))
        pixels = make_grid(images.add(1).div(2).clamp(0, 1), nrow=nrow, padding=2)  # (3, H', W')
    array = pixels.mul(255).round().byte().permute(1, 2, 0).numpy()  # (H', W', C)
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)


def image_tensor(image: Any, channels: int, size: int) -> torch.Tensor:
    """A PIL image -> (1, C, S, S) in [-1, 1]: grayscale or RGB as the model takes, resized to its side."""
    import numpy as np
    from PIL import Image

    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC)
    array = np.asarray(image, dtype=np.float32).reshape(size, size, channels)  # (S, S, C)
    return torch.from_numpy(array).permute(2, 0, 1)[None].div(127.5).sub(1)


class Explorer:
    """The callbacks of the page for one model: seed, grid, truncation and class in, pictures out."""

    def __init__(self, model: GanModel):
        self.model = model
        self.task = model.task
        self.classes: list[str] = []
        self.directions: list[str] = []
        self.images = True  # False for a flat-data model (points)
        self.style_based = False
        if self.task.translates:
            self.directions = self.task.directions(model.nets)
        elif self.task.samples:
            names = list(self.task.classes) or [str(i) for i in range(self.task.num_classes)]
            self.classes = names if self.task.conditional else []
            self.images = model.sample(1, seed=0).dim() == 4
            self.style_based = has_w_space(model.nets["G"])
        else:
            raise ValueError(
                f"ganzoo demo shows samplers and translators; {model.variant.name}'s task "
                f"{type(self.task).__name__} is neither"
            )

    @staticmethod
    def _truncation(value: float | None) -> float | None:
        """The slider's value as model.sample takes it: 1 (its right end) means no truncation."""
        return None if value is None or float(value) >= 1 else float(value)

    def _label(self, name: str | None) -> str | None:
        if not self.classes or name in (None, "", RANDOM_CLASS):
            return None
        if name not in self.classes:
            raise ValueError(f"unknown class {name!r}; this model draws {', '.join(self.classes)}")
        return name

    def samples(self, seed: float, grid: float, truncation: float | None = None, label: str | None = None) -> Any:
        """A grid x grid picture of samples (or the model's points), repeatable by seed."""
        if not self.images:
            return grid_image(self.model.sample(POINTS, seed=int(seed)))
        n = int(grid) ** 2
        wanted = self._label(label)
        images = self.model.sample(n, seed=int(seed), labels=wanted, truncation=self._truncation(truncation))
        return grid_image(images, int(grid))

    def walk(self, seed: float, steps: float, truncation: float | None = None) -> str:
        """A GIF of a latent walk between two seeded latents (there and back), as `ganzoo sample --interpolate`."""
        images = self.model.walk(1, int(steps), seed=int(seed), truncation=self._truncation(truncation))
        path = Path(tempfile.mkdtemp(prefix="ganzoo-walk-")) / f"walk-{int(seed)}.gif"
        save_walk_gif(images.cpu(), 1, int(steps), path)
        return str(path)

    def mix(self, seed: float, size: float, truncation: float | None = None) -> Any:
        """A style-mixing table: sources along the top, destinations down the side, mixes inside."""
        n = int(size)
        return grid_image(self.model.style_mix(n, n, seed=int(seed), truncation=self._truncation(truncation)), n + 1)

    def translate(self, image: Any, direction: str | None = None) -> Any:
        """An uploaded image, translated by the model (A to B, or back where it has that generator)."""
        if image is None:
            raise ValueError("upload an image first")
        config = self.model.config
        x = image_tensor(image, config.channels, config.image_size)  # (1, C, S, S)
        return grid_image(self.model.translate(x, direction or self.directions[0]).clamp(-1, 1))


def build_demo(model: GanModel, *, title: str, card: str) -> Any:
    """The Gradio Blocks page for ``model``: its controls on the left, the model card (markdown) on the right."""
    import gradio as gr

    explorer = Explorer(model)
    with gr.Blocks(title=f"ganzoo: {title}", analytics_enabled=False) as demo:
        gr.HTML(f"<style>{CSS}</style>")  # in the page itself: the CSS argument moved between Gradio versions
        gr.Markdown(f"# {title}")
        with gr.Row():
            with gr.Column(scale=2):
                if explorer.directions:
                    _translator_controls(gr, explorer)
                else:
                    _sampler_controls(gr, explorer, demo)
            with gr.Column(scale=1):
                gr.Markdown(card, elem_id="card")
    return demo


def _image(gr: Any, label: str, elem_id: str, **kwargs: Any) -> Any:
    """An output image shown as PNG (exact pixels), scaled up without blur."""
    import inspect

    if "format" in inspect.signature(gr.Image).parameters:  # early Gradio 4 releases always send PNG
        kwargs["format"] = "png"
    return gr.Image(
        label=label,
        elem_id=elem_id,
        type="pil",
        interactive=False,
        height=360,
        elem_classes=["ganzoo-pixels"],
        **kwargs,
    )


def _sampler_controls(gr: Any, explorer: Explorer, demo: Any) -> None:
    with gr.Row():
        seed = gr.Number(value=0, precision=0, label="Seed", elem_id="seed")
        grid = gr.Slider(1, MAX_GRID, value=4, step=1, label="Grid size", elem_id="grid", visible=explorer.images)
        truncation = gr.Slider(
            0.05, 1.0, value=1.0, step=0.05, label="Truncation (1 = off)", elem_id="truncation", visible=explorer.images
        )
    inputs = [seed, grid, truncation]
    if explorer.classes:
        inputs.append(
            gr.Dropdown([RANDOM_CLASS, *explorer.classes], value=RANDOM_CLASS, label="Class", elem_id="class")
        )
    button = gr.Button("Generate", variant="primary", elem_id="generate")
    samples = _image(gr, "Samples", "samples")
    button.click(explorer.samples, inputs, samples)
    demo.load(explorer.samples, inputs, samples)  # an image as soon as the page opens
    if not explorer.images:
        return
    with gr.Tab("Latent walk"):
        steps = gr.Slider(4, 32, value=12, step=1, label="Steps", elem_id="steps")
        walk_button = gr.Button("Walk", elem_id="walk")
        walk = gr.Image(
            label="Walk (GIF)",
            elem_id="walk-gif",
            type="filepath",
            interactive=False,
            height=240,
            elem_classes=["ganzoo-pixels"],
        )
        walk_button.click(explorer.walk, [seed, steps, truncation], walk)
    if explorer.style_based:
        with gr.Tab("Style mixing"):
            size = gr.Slider(2, 6, value=4, step=1, label="Sources and destinations", elem_id="mix-size")
            mix_button = gr.Button("Mix styles", elem_id="mix")
            mixed = _image(gr, "Style mixing (top row: sources; left column: destinations)", "mixed")
            mix_button.click(explorer.mix, [seed, size, truncation], mixed)


def _translator_controls(gr: Any, explorer: Explorer) -> None:
    with gr.Row():
        upload = gr.Image(
            label="Upload an image", elem_id="upload", type="pil", image_mode=None, sources=["upload"], height=300
        )
        result = _image(gr, "Translation", "translation")
    direction = gr.Radio(
        explorer.directions,
        value=explorer.directions[0],
        label="Direction",
        elem_id="direction",
        visible=len(explorer.directions) > 1,
    )
    button = gr.Button("Translate", variant="primary", elem_id="translate")
    button.click(explorer.translate, [upload, direction], result)
    upload.upload(explorer.translate, [upload, direction], result)
