"""Unpaired two-domain data for translation variants: item i is (image from A, image from B).

Specs: "unpaired:A_DIR,B_DIR", a folder holding trainA/ and trainB/, and "mnist-5k-inverted"
(MNIST <-> inverted MNIST from two disjoint halves of mnist-5k's training part, so no image is
ever seen with its own inversion; the 500 held-out digits stay out for evaluation).
"""

from __future__ import annotations

import os

import torch
from torch.utils.data import Dataset

from .folder import load_folder
from .images import stack_items


class UnpairedTensorDataset(Dataset):
    """Two in-memory domains of possibly different sizes, paired by a fixed random permutation.

    ``len`` is the larger domain's size; item i takes A[i mod |A|] and B[perm[i] mod |B|]. The
    engine reshuffles indices every epoch, so batches mix; the pairing itself carries no meaning.
    """

    def __init__(self, a: torch.Tensor, b: torch.Tensor, seed: int = 0):
        self.a, self.b = a, b  # (Na, C, H, W), (Nb, C, H, W) in [-1, 1]
        self.pair = torch.randperm(max(len(a), len(b)), generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return len(self.pair)

    def __getitem__(self, i: int):
        return self.a[i % len(self.a)], self.b[int(self.pair[i]) % len(self.b)]

    def batch(self, idx: torch.Tensor):
        """A whole batch by indexing, no per-item calls: ((B, C, H, W), (B, C, H, W))."""
        return self.a[idx % len(self.a)], self.b[self.pair[idx] % len(self.b)]


def _stack(folder: str, image_size: int, channels: int) -> torch.Tensor:
    """Every image of ``folder`` as (N, C, S, S) in [-1, 1]; refused before allocating when it would not fit."""
    ds = load_folder(folder, image_size=image_size, channels=channels)
    return stack_items(ds, range(len(ds)), f"{folder}: {len(ds):,} images of {channels}x{image_size}x{image_size}")


def load_unpaired(arg: str | None, *, image_size: int = 256, channels: int = 3) -> UnpairedTensorDataset:
    """ "unpaired:A_DIR,B_DIR" or a folder with trainA/ and trainB/ (decoded into memory)."""
    if not arg:
        raise ValueError("unpaired data needs folders: unpaired:A_DIR,B_DIR or a folder with trainA/ and trainB/")
    if "," in arg:
        dir_a, dir_b = (p.strip() for p in arg.split(",", 1))
    else:
        dir_a, dir_b = os.path.join(arg, "trainA"), os.path.join(arg, "trainB")
        if not (os.path.isdir(dir_a) and os.path.isdir(dir_b)):
            raise FileNotFoundError(f"{arg} has no trainA/ and trainB/ folders; give unpaired:A_DIR,B_DIR instead")
    return UnpairedTensorDataset(_stack(dir_a, image_size, channels), _stack(dir_b, image_size, channels))


def mnist_inverted_domains(image_size: int = 32, channels: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(A, B, train indices): A = the first half of the training digits, B = the second half inverted."""
    from .mnist import load_mnist5k, mnist5k_split

    images = load_mnist5k(image_size=image_size, channels=channels).tensor
    train, _ = mnist5k_split()
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    idx = torch.as_tensor(train)[perm]
    half = len(idx) // 2
    return images[idx[:half]], -images[idx[half:]], idx


def load_mnist_inverted(arg: str | None = None, *, image_size: int = 32, channels: int = 1) -> UnpairedTensorDataset:
    """The spec "mnist-5k-inverted": MNIST (A) <-> inverted MNIST (B), disjoint halves, no pairs."""
    if arg is not None:
        raise ValueError("mnist-5k-inverted takes no argument")
    a, b, _ = mnist_inverted_domains(image_size, channels)
    return UnpairedTensorDataset(a, b)
