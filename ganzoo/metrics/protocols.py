"""Evaluation protocols by name (``--protocol``): what the field uses, pinned, and recorded with every number.

FID is biased by the sample count and depends on the reference set, so two FIDs compare only under
one protocol. Each preset fixes the generated count, the reference count and the extractor; the
metric options (KID subsets of 1,000 x 100, IS 10 splits, precision/recall k = 3) are the papers'.
"custom" takes everything from the flags. Torch-free: cards and ``ganzoo info`` quote these.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Protocol", "PROTOCOLS", "get_protocol"]


@dataclass(frozen=True)
class Protocol:
    name: str
    summary: str  # one line, quoted beside every number measured under it
    num_samples: int | None  # generated samples; None: the metric's default (see ganzoo.evaluate)
    num_reference: int | None  # reference images; None: the whole reference set
    features: str | None = "inception"  # None: --features decides


PROTOCOLS = {
    p.name: p
    for p in (
        Protocol(
            "fid50k-full",
            "50,000 generated against the whole reference set, FID Inception (the FID paper's and "
            "stylegan2-ada's fid50k_full; StudioGAN's CIFAR-10 protocol when the reference is the 50k training set)",
            50_000,
            None,
        ),
        Protocol(
            "fid10k",
            "10,000 generated against up to 50,000 reference images (a seeded subset of larger sets), "
            "FID Inception: quick, comparable only with other fid10k numbers",
            10_000,
            50_000,
        ),
        Protocol("custom", "the counts and extractor given by the flags", None, None, None),
    )
}


def get_protocol(name: str) -> Protocol:
    """The preset ``name``, or a ValueError listing the presets."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; choose one of: {', '.join(PROTOCOLS)}") from None
