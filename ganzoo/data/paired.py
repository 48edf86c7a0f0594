"""Paired two-domain data for translation variants that learn from pairs: item i is (A[i], B[i]), the same scene.

Specs:
- "paired:A_DIR,B_DIR": two folders whose images pair up by file name (relative path, extension
  aside: A_DIR/cat/001.jpg pairs with B_DIR/cat/001.png);
- "aligned:DIR": every image under DIR holds A and B side by side (A the left half, B the right
  half), the layout in which the pix2pix data sets ship (facades/train/1.jpg is 512x256);
  "aligned-btoa:DIR" reads the same files the other way round (A the right half), the
  original sets' "BtoA" direction (facades: labels -> photos);
- "mnist-5k-thick-paired", "mnist-5k-rot90-paired", "mnist-5k-inverted-paired": mnist-5k digits
  with their true targets (ganzoo.data.mnist_tasks).

Batches are ((B, C, H, W), (B, C, H, W)), as for unpaired data: PairedTensorDataset is an
UnpairedTensorDataset whose pairing is the identity, so both kinds share the engine's batch path.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from .folder import ImageReadError, find_images, load_folder, pil_to_model_range
from .image_files import open_image
from .images import check_memory, stack_items
from .unpaired import UnpairedTensorDataset

__all__ = ["PairedTensorDataset", "load_paired", "load_aligned", "load_aligned_btoa", "match_by_name"]


class PairedTensorDataset(UnpairedTensorDataset):
    """Two aligned in-memory domains: item i is (A[i], B[i]), the same scene in each."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor):
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"paired domains must hold as many images each, got {a.shape[0]} and {b.shape[0]}")
        super().__init__(a, b)
        self.pair = torch.arange(len(a))  # B[i] is A[i]'s own partner


def _name(path: Path, root: Path) -> str:
    """The pairing key of an image: its path under root without the extension."""
    return path.relative_to(root).with_suffix("").as_posix()


def _keys(root: Path, files: list[Path]) -> dict[str, int]:
    """{name: index into files}; two files with one name (a.png and a.jpg) make the pairing ambiguous."""
    keys: dict[str, int] = {}
    for i, path in enumerate(files):
        key = _name(path, root)
        if key in keys:
            raise ValueError(
                f"paired data: {files[keys[key]]} and {path} have the same name {key!r}; "
                f"keep one file per name so each pairs with exactly one partner"
            )
        keys[key] = i
    return keys


def match_by_name(dir_a: str | Path, dir_b: str | Path) -> tuple[list[Path], list[Path]]:
    """The image files of two folders paired by name, in name order; a name on one side only is refused."""
    root_a, root_b = Path(dir_a).expanduser(), Path(dir_b).expanduser()
    files_a, files_b = find_images(root_a), find_images(root_b)
    keys_a, keys_b = _keys(root_a, files_a), _keys(root_b, files_b)
    both = sorted(keys_a.keys() & keys_b.keys())
    for here, there, root, other in ((keys_a, keys_b, root_a, root_b), (keys_b, keys_a, root_b, root_a)):
        alone = sorted(here.keys() - there.keys())
        if alone:
            raise ValueError(
                f"paired data: {len(alone)} image(s) of {root} have no partner of the same name in "
                f"{other} (first: {alone[0]!r}); {len(both)} name(s) matched. Give both folders the "
                f"same file names, or remove the unpaired images"
            )
    return [files_a[keys_a[k]] for k in both], [files_b[keys_b[k]] for k in both]


def _stack_files(root: Path, files: list[Path], image_size: int, channels: int) -> torch.Tensor:
    """The images ``files`` under ``root``, in that order, as (N, C, S, S) in [-1, 1] (a large folder through its
    prepared cache, as load_folder reads it)."""
    ds = load_folder(str(root), image_size=image_size, channels=channels)
    where = {path: i for i, path in enumerate(ds.files)}
    order = torch.tensor([where[path] for path in files])
    what = f"{root}: {len(order):,} images of {channels}x{image_size}x{image_size}"
    check_memory(len(order) * channels * image_size * image_size * 4, what)
    if hasattr(ds, "batch"):
        return ds.batch(order)
    return stack_items(ds, order.tolist(), what)


def load_paired(arg: str | None, *, image_size: int = 256, channels: int = 3) -> PairedTensorDataset:
    """The spec "paired:A_DIR,B_DIR": images of two folders paired by file name (decoded into memory)."""
    if not arg or "," not in arg:
        raise ValueError(
            f"paired data needs two folders: paired:A_DIR,B_DIR (got {arg!r}); for side-by-side A|B "
            f"images use aligned:DIR"
        )
    dir_a, dir_b = (Path(p.strip()).expanduser() for p in arg.split(",", 1))
    files_a, files_b = match_by_name(dir_a, dir_b)
    return PairedTensorDataset(
        _stack_files(dir_a, files_a, image_size, channels), _stack_files(dir_b, files_b, image_size, channels)
    )


def _split(path: Path, image_size: int, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One side-by-side image -> (left half, right half), each (C, S, S) in [-1, 1]."""
    try:
        with open_image(path) as img:  # refused from its header when it is not an image or a bomb
            img.load()
            w, h = img.size
            if w % 2 == 0:
                left, right = img.crop((0, 0, w // 2, h)), img.crop((w // 2, 0, w, h))
                return pil_to_model_range(left, image_size, channels), pil_to_model_range(right, image_size, channels)
    except ImageReadError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"cannot read image {path}: {exc}") from exc
    raise ValueError(
        f"{path} is {w}x{h}: an aligned image holds A and B side by side, so its width must be even "
        f"(two {h}x{h} halves in the pix2pix sets)"
    )


def load_aligned(
    arg: str | None, *, image_size: int = 256, channels: int = 3, btoa: bool = False
) -> PairedTensorDataset:
    """The spec "aligned:DIR": every image under DIR is A | B side by side (A left; right with ``btoa``)."""
    if not arg:
        raise ValueError("aligned data needs a folder of side-by-side A|B images: aligned:DIR (e.g. facades/train)")
    files = find_images(arg)
    one = channels * image_size * image_size * 4  # bytes of one half as float32
    check_memory(2 * len(files) * one, f"{arg}: {len(files):,} image pairs of {channels}x{image_size}x{image_size}")
    left = torch.empty((len(files), channels, image_size, image_size))  # (N, C, S, S) each
    right = torch.empty_like(left)
    for i, path in enumerate(files):
        left[i], right[i] = _split(path, image_size, channels)
    return PairedTensorDataset(right, left) if btoa else PairedTensorDataset(left, right)


def load_aligned_btoa(arg: str | None, *, image_size: int = 256, channels: int = 3) -> PairedTensorDataset:
    """The spec "aligned-btoa:DIR": side-by-side images read as B | A (A is the right half)."""
    if not arg:
        raise ValueError(
            "aligned data needs a folder of side-by-side A|B images: aligned-btoa:DIR (e.g. facades/train)"
        )
    return load_aligned(arg, image_size=image_size, channels=channels, btoa=True)
