"""The discriminator tricks of ``ganzoo.config.DiscriminatorTricks``, applied once for every variant.

A variant whose config inherits DiscriminatorTricks builds D with ``d_in_channels(config)`` inputs
(and, where its network has a place for it, the ``MinibatchStd`` layer of ganzoo.networks), then
calls ``apply(D, config)``. Packing and augmentation become a transform of D's input, installed as
a forward pre-hook: every call of D sees it (the step's, a gradient penalty's through the raw
module, DDP's and a compiled module's), steps stay as they are, and D's parameter names do not
change, so checkpoints and published folders keep their layout.

ADA (``augment="ada"``) adds a controller to that transform: the step hands D's outputs on real images
to ``observe_real`` (``score_real`` does so for it), and every ``ada_interval`` D updates the controller
moves the augmentation probability p by the sign of E[sign(D(x_real))] - ``ada_target``.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from .augment import ada_augment, diff_augment
from .config import ConfigError


def d_in_channels(config: Any, channels: int) -> int:
    """D's input channels (or features, for flat data) when it judges ``config.pack`` samples at once."""
    return channels * getattr(config, "pack", 1)


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """(B, C, ...) -> (B/m, m*C, ...): each group of m consecutive samples becomes one input, sample-major.

    Samples i*m ... i*m + m - 1 share the i-th D input; D scores the group as a whole (PacGAN).
    """
    if x.shape[0] % m:
        raise ValueError(
            f"pack={m} needs a batch that is a multiple of {m}, but D got {x.shape[0]} samples: "
            f"set --batch-size to a multiple of {m}"
        )
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


class AdaController:
    """ADA's augmentation probability p and the statistic that moves it (Karras et al. 2020, arXiv:2006.06676).

    Each D update on real images adds the signs of D's raw outputs; every ``ada_interval`` updates
    r_t = E[sign(D(x_real))] over them (over all processes under DDP) moves p by
    sign(r_t - ada_target) * images / (ada_kimg * 1000), clamped to [0, 1]: up when D is sure of the
    reals (overfitting), down when it is not.
    """

    UNREPORTED = 64  # D calls in training mode without a report of real outputs before that is an error

    def __init__(self, config: Any):
        self.target, self.kimg = config.ada_target, config.ada_kimg
        self.interval, self.groups, self.pack = config.ada_interval, config.ada_ops, getattr(config, "pack", 1)
        self.p = 0.0  # the probability of each op on each sample
        self.rt: float | None = None  # the last interval's r_t estimate
        self.signs: torch.Tensor | None = None  # sum of sign(D(x_real)) over this interval (on D's device)
        self.outputs = self.updates = self.images = 0  # D outputs, D updates and real images in this interval
        self.adjustments = 0  # intervals finished so far
        self.unreported = 0  # D calls since the last report

    def observe(self, logits: torch.Tensor) -> torch.Tensor:
        """Count D's raw outputs on a batch of reals (one D update); adjust p when the interval is full.
        Returns the batch's mean sign."""
        signs = logits.detach().float().sign()
        total = signs.sum()
        self.signs = total if self.signs is None else self.signs + total.to(self.signs.device)
        self.outputs += signs.numel()
        self.images += logits.shape[0] * self.pack  # a packed D scores `pack` images per output
        self.updates += 1
        self.unreported = 0
        if self.updates >= self.interval:
            self._adjust()
        return signs.mean()

    def _adjust(self) -> None:
        stats = torch.stack([self.signs.double(), self.signs.new_tensor(float(self.outputs), dtype=torch.float64),
                             self.signs.new_tensor(float(self.images), dtype=torch.float64)])  # fmt: skip
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(stats)  # the sums over every process: one p for all
        signs, outputs, images = stats.tolist()
        self.rt = signs / outputs
        self.adjustments += 1
        step = (1.0 if self.rt > self.target else -1.0 if self.rt < self.target else 0.0) * images / (self.kimg * 1000)
        self.p = min(max(self.p + step, 0.0), 1.0)
        self.signs, self.outputs, self.updates, self.images = None, 0, 0, 0

    def state(self) -> dict[str, torch.Tensor]:
        """p and this interval's sums, as tensors for a checkpoint (exact resume)."""
        signs = torch.zeros((), dtype=torch.float64) if self.signs is None else self.signs.detach().double().cpu()
        return {"ada_p": torch.tensor(self.p, dtype=torch.float64), "ada_signs": signs,
                "ada_counts": torch.tensor([self.outputs, self.updates, self.images, self.adjustments]),
                "ada_rt": torch.tensor(self.rt or 0.0, dtype=torch.float64)}  # fmt: skip

    def load(self, tensors: dict[str, torch.Tensor], device: torch.device) -> None:
        self.p = float(tensors["ada_p"])
        self.outputs, self.updates, self.images, self.adjustments = (int(n) for n in tensors["ada_counts"].tolist())
        self.signs = tensors["ada_signs"].to(device, torch.float32) if self.updates else None
        self.rt = float(tensors["ada_rt"]) if self.adjustments else None


class _InputTransform:
    """D's forward pre-hook: augment each sample (DiffAugment, or ADA at the controller's p), then pack."""

    def __init__(self, policy: str, m: int, ada: AdaController | None = None):
        self.policy, self.m, self.ada = policy, m, ada

    def __call__(self, module: nn.Module, args: tuple) -> tuple:
        x, *rest = args
        if self.ada is not None:
            x = _ada_untraced()(self.ada, module.training, x)
        elif self.policy:
            x = diff_augment(x, self.policy)  # fresh ops per sample, before they are grouped
        if self.m > 1:
            x = pack(x, self.m)
        return (x, *rest)


@functools.cache
def _ada_untraced() -> Any:
    """``_ada_input`` kept out of torch.compile's graphs (p and the call count change every call: no graph to
    keep), wrapped on first use: wrapping imports torch's compiler stack, seconds that loading a model must not pay."""
    return torch.compiler.disable(_ada_input)


def _ada_input(ada: AdaController, training: bool, x: torch.Tensor) -> torch.Tensor:
    """``x`` (B, C, H, W) through ADA's pipeline at the controller's p; counts training calls of D between reports."""
    if training:
        ada.unreported += 1
        if ada.unreported > ada.UNREPORTED:
            raise RuntimeError(
                f"augment='ada': D was called {ada.unreported - 1} times in training without its outputs on real "
                f"images reaching ADA's controller; the step must score reals with ganzoo.tricks.score_real or "
                f"hand D's outputs on them to ganzoo.tricks.observe_real"
            )
    return ada_augment(x, ada.p, ada.groups)


ADA_ATTRIBUTE = "ganzoo_ada"  # where apply() leaves the controller on D (a plain attribute: not in D's state_dict)


def apply(D: nn.Module, config: Any) -> nn.Module:
    """Install the input-side tricks of ``config`` on ``D`` (in place) and return it."""
    policy, m = getattr(config, "augment", ""), getattr(config, "pack", 1)
    ada = AdaController(config) if policy == "ada" else None
    if ada is not None:
        setattr(D, ADA_ATTRIBUTE, ada)
    if policy or m > 1:
        D.register_forward_pre_hook(_InputTransform(policy, m, ada))
    return D


def ada_controller(net: nn.Module) -> AdaController | None:
    """The ADA controller ``apply`` installed on ``net``, or None."""
    return getattr(net, ADA_ATTRIBUTE, None)


def observe_real(ctx: Any, logits: torch.Tensor, net: str = "D") -> torch.Tensor:
    """Hand D's raw outputs on real images (one D update's) to its ADA controller, if any; returns ``logits``.

    Logs "ada_p" (the probability now) and "ada_rt" (this batch's mean sign of D's real outputs).
    """
    ada = ada_controller(ctx.raw_models[net])
    if ada is not None:
        mean_sign = ada.observe(logits)
        ctx.log(ada_p=ada.p, ada_rt=mean_sign)
    return logits


def state_tensors(nets: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    """The tricks' own state (ADA's p and its running sums) of each network, as "NET.NAME" tensors."""
    return {
        f"{name}.{k}": v
        for name, net in nets.items()
        if ada_controller(net)
        for k, v in ada_controller(net).state().items()
    }


def load_state_tensors(nets: dict[str, nn.Module], tensors: dict[str, torch.Tensor], device: torch.device,
                       source: Any = "the checkpoint") -> None:  # fmt: skip
    """Restore ``state_tensors``; a network with none saved (ADA turned on at a resume) starts at p = 0."""
    for name, net in nets.items():
        ada = ada_controller(net)
        saved = {k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith(f"{name}.")}
        if ada is None or not saved:
            continue
        expected = ada.state()
        missing = sorted(set(expected) - set(saved))
        if missing:
            raise ValueError(f"{source} holds part of {name}'s ADA state (no {', '.join(missing)}): it is damaged")
        odd = next((k for k, v in expected.items() if saved[k].shape != v.shape), None)
        if odd is not None:
            raise ValueError(
                f"{source} holds {name}'s ADA {odd} of shape {tuple(saved[odd].shape)}, not "
                f"{tuple(expected[odd].shape)}: it is damaged or of another layout"
            )
        ada.load(saved, device)


def summary(nets: dict[str, nn.Module]) -> str:
    """One phrase on the tricks' state for the end of a run ("ADA p 0.213, r_t 0.61"), or ""."""
    parts = []
    for net in nets.values():
        ada = ada_controller(net)
        if ada is not None:
            rt = "" if ada.rt is None else f", r_t {ada.rt:.2f}"
            parts.append(f"ADA p {ada.p:.3f}{rt}")
    return "; ".join(parts)


def score_real(
    ctx: Any, real: torch.Tensor, *args: Any, observe: bool = True, scheduled: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(D's logits on ``real``, the R1 term gamma/2 * E||grad D||^2 or None): one pass serves both.

    With ``config.r1`` > 0 the pass runs through the raw module in fp32 and eager mode (double
    backward), as ganzoo.losses.r1_penalty does; the penalty is logged as "r1". It is lazy with
    ``config.r1_interval`` > 1: only on iterations that are multiples of it (counted over the whole run, so a
    resume keeps the rhythm), weighted by it. ``scheduled``: the caller runs this pass only when R1 is due and
    weights it itself (a lazy phase, StyleGAN2's Dreg). The logits go to ``observe_real`` (ADA's statistic)
    unless ``observe`` is False (a lazy R1 pass beside the D update's own).
    """
    gamma = getattr(ctx.config, "r1", 0.0)
    interval = 1 if scheduled else getattr(ctx.config, "r1_interval", 1)
    if gamma <= 0 or getattr(ctx, "iteration", 0) % interval:
        out = ctx.models["D"](real, *args)
        return (observe_real(ctx, out) if observe else out), None
    from .losses import r1_penalty

    out, penalty = r1_penalty(ctx.raw_models["D"], real, *args)
    ctx.log(r1=penalty)
    return (observe_real(ctx, out) if observe else out), gamma / 2 * interval * penalty


MODE_SEEKING = "mode_seeking"  # the name generator_loss leaves in ctx.applied, which the engine checks


def mode_seeking_term(fake: torch.Tensor, z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """MSGAN's term (Mao et al. 2019, arXiv:1903.05628): 1 / (mean |G(z_i) - G(z_j)| / mean |z_i - z_j|) over
    the pairs (i, i + n/2) of a batch of fakes (n, ...) and their latents (n, ...). It is large when two
    latents give nearly the same image, the symptom of a mode collapsed within a class."""
    h = fake.shape[0] // 2
    if h == 0:
        raise ValueError(f"mode seeking needs pairs of fakes, got a batch of {fake.shape[0]}: use a batch of 2 or more")
    images = (fake[:h].float() - fake[h : 2 * h].float()).abs().mean()
    latents = (z[:h].float() - z[h : 2 * h].float()).abs().mean()
    return 1.0 / (images / latents + eps)


def generator_loss(ctx: Any, loss_g: torch.Tensor, fake: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """G's loss with the G-side trick of ``ctx.config`` added: ``mode_seeking`` times mode_seeking_term of the
    fakes of G's update and their latents (logged as "mode_seeking"); ``loss_g`` itself when it is 0.

    Every step calls it on the loss of its G update; the engine refuses a run asking for mode seeking whose
    step never did. The pairs share a class because ``ctx.fake_labels`` draws them so when mode seeking is on.
    """
    weight = getattr(ctx.config, "mode_seeking", 0.0)
    if hasattr(ctx, "applied"):  # the engine's context (a hand-made one in a test may have none)
        ctx.applied.add(MODE_SEEKING)
    if weight <= 0:
        return loss_g
    term = mode_seeking_term(fake, z)
    ctx.log(mode_seeking=term)
    return loss_g + weight * term


def check_applied(ctx: Any, variant: str) -> None:
    """After an iteration: a run that asks for mode seeking but whose step never added it stops, not train without."""
    weight = getattr(ctx.config, "mode_seeking", 0.0)
    if weight > 0 and MODE_SEEKING not in ctx.applied:
        raise ConfigError(
            f"mode_seeking={weight}: {variant}'s step does not pass G's loss through ganzoo.tricks.generator_loss, "
            "so the term would be ignored; leave mode_seeking at 0"
        )
