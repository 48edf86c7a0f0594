"""Translation tasks built from mnist-5k digits, with a known true target for every source image.

A task is a fixed function T from domain A (mnist-5k digits) to domain B. "inverted" (x -> -x, the
spec "mnist-5k-inverted") maps each pixel to itself; the other tasks move pixels:

- "thick": morphological dilation of the ink by a 3x3 square (strokes grow one pixel each side);
- "rot90": rotation by 90 degrees anticlockwise (exact, no interpolation);
- "shift": every digit moved 4 pixels left, wrapping around (exact inverse; ink seldom reaches
  the left 4 columns): a move of every ink pixel that a convolution can learn, unlike rot90's.

Unpaired specs ("mnist-5k-thick") take A and B from disjoint halves of mnist-5k's training digits,
so no image is seen beside its own translation; paired specs ("mnist-5k-thick-paired") give every
training digit with its own T(x). The 500 held-out digits stay out of both for evaluation, where
``upright`` maps a B image back to where the bundled digit judge can read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .paired import PairedTensorDataset
from .unpaired import UnpairedTensorDataset


def thicken(x: torch.Tensor) -> torch.Tensor:
    """Dilate the ink (high values) of (B, C, H, W) images in [-1, 1] by a 3x3 square."""
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def rot90(x: torch.Tensor) -> torch.Tensor:
    """Rotate (B, C, H, W) images by 90 degrees anticlockwise."""
    return torch.rot90(x, 1, dims=(-2, -1))


def unrot90(x: torch.Tensor) -> torch.Tensor:
    """The inverse of ``rot90``: rotate by 90 degrees clockwise."""
    return torch.rot90(x, -1, dims=(-2, -1))


def shift(x: torch.Tensor) -> torch.Tensor:
    """Move (B, C, H, W) images 4 pixels left, the columns that leave coming back on the right."""
    return torch.roll(x, -4, dims=-1)


def unshift(x: torch.Tensor) -> torch.Tensor:
    """The inverse of ``shift``: 4 pixels right."""
    return torch.roll(x, 4, dims=-1)


def invert(x: torch.Tensor) -> torch.Tensor:
    """Swap ink and background of images in [-1, 1]: x -> -x (its own inverse)."""
    return -x


@dataclass(frozen=True)
class MnistTask:
    name: str  # "thick": its specs are mnist-5k-thick and mnist-5k-thick-paired
    summary: str  # one line for `ganzoo list --datasets`
    forward: Callable[[torch.Tensor], torch.Tensor]  # A -> B, the true target of every source image
    upright: Callable[[torch.Tensor], torch.Tensor]  # B -> where the digit judge reads it (identity if it can)


TASKS = {
    "inverted": MnistTask("inverted", "MNIST -> inverted MNIST (ink and background swapped)", invert, invert),
    "thick": MnistTask("thick", "thin -> thick strokes (3x3 dilation)", thicken, lambda x: x),
    "rot90": MnistTask("rot90", "upright -> rotated 90 degrees anticlockwise", rot90, unrot90),
    "shift": MnistTask("shift", "centred -> moved 4 pixels left", shift, unshift),
}


def get_task(name: str) -> MnistTask:
    if name not in TASKS:
        raise ValueError(f"unknown mnist-5k task {name!r}; the tasks are: {', '.join(sorted(TASKS))}")
    return TASKS[name]


def _train_digits(image_size: int, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """mnist-5k's 4,500 training digits (N, C, S, S) in [-1, 1], in a fixed shuffled order, and their indices."""
    from .mnist import load_mnist5k, mnist5k_split

    images = load_mnist5k(image_size=image_size, channels=channels).tensor
    train, _ = mnist5k_split()
    idx = torch.as_tensor(train)[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))]
    return images[idx], idx


def holdout_pairs(
    task: str, image_size: int = 32, channels: int = 1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(A, T(A), labels) for the 500 held-out digits that no task spec trains on."""
    from .mnist import load_mnist5k, mnist5k_split

    data = load_mnist5k(image_size=image_size, channels=channels)
    _, holdout = mnist5k_split()
    idx = torch.as_tensor(holdout)
    a = data.tensor[idx]  # (500, C, S, S)
    return a, get_task(task).forward(a), data.labels[idx]


def load_task_unpaired(task: str, image_size: int = 32, channels: int = 1) -> UnpairedTensorDataset:
    """A = the first half of the training digits, B = T(the second half): no pairs to learn from."""
    x, _ = _train_digits(image_size, channels)
    half = len(x) // 2
    return UnpairedTensorDataset(x[:half], get_task(task).forward(x[half:]))


def load_task_paired(task: str, image_size: int = 32, channels: int = 1) -> PairedTensorDataset:
    """Every training digit x with its own true target T(x)."""
    x, _ = _train_digits(image_size, channels)
    return PairedTensorDataset(x, get_task(task).forward(x))


def spec_loader(task: str, paired: bool) -> Callable:
    """The load(arg, *, image_size, channels) of the spec for ``task``."""

    def load(arg: str | None = None, *, image_size: int = 32, channels: int = 1):
        if arg is not None:
            raise ValueError(f"mnist-5k-{task}{'-paired' if paired else ''} takes no argument")
        return (load_task_paired if paired else load_task_unpaired)(task, image_size, channels)

    return load


load_thick, load_thick_paired = spec_loader("thick", False), spec_loader("thick", True)
load_rot90, load_rot90_paired = spec_loader("rot90", False), spec_loader("rot90", True)
load_shift = spec_loader("shift", False)
load_inverted_paired = spec_loader(
    "inverted", True
)  # unpaired: ganzoo.data.unpaired.load_mnist_inverted, the same halves
