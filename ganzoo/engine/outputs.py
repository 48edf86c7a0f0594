"""What a run writes besides checkpoints: metrics.jsonl, TensorBoard events, sample grids."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch

from .runfolder import atomic_write_text


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    """This process's peak memory so far: host RSS (Linux) and, on CUDA, the allocator's peak."""
    peaks = {}
    try:  # VmHWM counts this program only; getrusage's maxrss would include a forking parent's pages
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks["peak_rss_mb"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:  # not Linux
        pass
    if device.type == "cuda":
        peaks["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return peaks


class MetricsLog:
    """One JSON line per log step in metrics.jsonl, mirrored to TensorBoard when it is installed."""

    def __init__(self, run_dir: Path, resume_from: int | None):
        self.path = run_dir / "metrics.jsonl"
        if resume_from is not None and self.path.exists():  # drop lines past the checkpoint we resume from
            kept = [line for line, record in self._records() if record["step"] <= resume_from]
            atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        self._file = self.path.open("a")
        self._tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(run_dir / "tensorboard"))
        except Exception:  # tensorboard not installed: jsonl only
            pass

    def _records(self) -> list[tuple[str, dict[str, Any]]]:
        """Each line with its record; a torn last line (a write cut short by a crash) is dropped."""
        text = self.path.read_text(errors="replace")
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        records = []
        for number, line in lines:
            try:
                record = json.loads(line)
                step = record["step"]
                if not isinstance(step, int):
                    raise TypeError(f"'step' is {step!r}")
            except (ValueError, KeyError, TypeError) as exc:
                if number == lines[-1][0]:
                    break  # the last line only: a crash mid-write leaves exactly this
                raise ValueError(
                    f"{self.path} line {number} is not a metrics record ({type(exc).__name__}: {exc}); "
                    f"fix or delete that line, then resume again"
                ) from None
            records.append((line, record))
        return records

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, record["step"])

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def write_preview(model: Any, path: Path, *, seed: int, n: int, inputs: Any = None) -> Path | None:
    """Save the task's preview picture of ``model`` (``inputs``: a translator's images) at ``path``; None if none."""
    preview = model.task.preview(model, seed=seed, n=n, inputs=inputs)
    if preview is None:
        return None
    save_grid(preview.images.cpu(), path, nrow=preview.nrow)
    return path


def grid_pixels(count: int, shape: tuple[int, ...], nrow: int | None = None) -> tuple[int, int]:
    """(width, height) of the grid ``save_grid`` makes of ``count`` samples of ``shape`` (C, H, W) or (D,)."""
    if len(shape) != 3:
        return 256, 256  # points: one density picture
    if count < 1:
        return 0, 0
    nrow = min(nrow or max(1, math.isqrt(count)), count)
    rows = -(-count // nrow)
    return nrow * (shape[2] + 2) + 2, rows * (shape[1] + 2) + 2


def check_grid_size(width: int, height: int) -> None:
    """Refuse a picture Pillow would refuse to open (a decompression bomb, past ``Image.MAX_IMAGE_PIXELS``)."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS or 0
    if limit and width * height > limit:
        raise ValueError(
            f"one picture of {width:,} x {height:,} = {width * height:,} pixels is over Pillow's limit of "
            f"{limit:,} (larger pictures are refused as decompression bombs when opened)"
        )


def save_grid(images: torch.Tensor, path: Path, *, nrow: int | None = None) -> None:
    """Save (N, C, H, W) images in [-1, 1] as one grid (``nrow`` per row; square by default), or (N, 2)
    points as a density picture. The suffix of ``path`` picks the image format. The picture is written
    to a temp file and renamed into place: a link at ``path`` is replaced, never written through."""
    from PIL import Image
    from torchvision.utils import save_image

    path = Path(path)
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None:
        raise ValueError(f"{path}: {path.suffix!r} is not an image format Pillow writes")
    if images.dim() == 2:
        images, nrow = points_picture(images), 1
    else:
        check_grid_size(*grid_pixels(images.shape[0], tuple(images.shape[1:]), nrow))
        images = images.float().add(1).div(2).clamp(0, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_image(
            images, str(tmp), nrow=nrow or max(1, int(math.sqrt(images.shape[0]))), padding=2, format=image_format
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def points_picture(points: torch.Tensor, size: int = 256) -> torch.Tensor:
    """2D points -> a (1, size, size) picture: white dots on black, axes scaled to the data (+10%)."""
    p = points[:, :2].float()
    lo, hi = p.min(0).values, p.max(0).values
    span = (hi - lo).max().clamp_min(1e-6) * 1.1
    centre = (hi + lo) / 2
    pix = ((p - centre) / span + 0.5).mul(size - 1).round().long().clamp(0, size - 1)
    img = torch.zeros(size * size)
    img.index_add_(0, (size - 1 - pix[:, 1]) * size + pix[:, 0], torch.ones(len(pix)))
    return (img.view(1, size, size) > 0).float()
