"""``--sync-bn``: batch norm over the global batch of a torchrun launch, not each process's share of it.

Each process normalises with the mean and variance of every process's batch together, and the running
statistics follow them, so the ranks agree on them after every step. On CUDA the layers become
torch's ``SyncBatchNorm``; on the CPU, where torch has no kernel for it and DDP refuses it, they become
``GlobalBatchNorm``, which reduces the statistics with differentiable all-reduces (gloo). Both keep the
parameters, buffers and state keys of ``BatchNorm2d``, so checkpoints and published weights keep plain
batch-norm names.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..config import ConfigError

PLAIN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)  # the layers converted (not subclasses with own forwards)


class GlobalBatchNorm(_BatchNorm):
    """SyncBatchNorm for CPU tensors (torch's needs CUDA, and DDP refuses it on the CPU): the same parameters,
    buffers and state keys as BatchNorm, and in training under a process group the statistics of every rank."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (N, C, ...), got {input.dim()}D")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(input)  # eval, or one process: plain batch norm
        return _global_batch_norm(self, input)


SYNCED = (nn.SyncBatchNorm, GlobalBatchNorm)  # what convert() makes: torch's on CUDA, GlobalBatchNorm elsewhere


class _AllReduce(torch.autograd.Function):
    """The sum over the ranks; its gradient is the sum of the ranks' gradients (every rank's loss uses the sum)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def _global_batch_norm(bn: GlobalBatchNorm, x: torch.Tensor) -> torch.Tensor:
    """Normalise ``x`` (N, C, ...) with the statistics of every rank's batch; update the running ones as torch does."""
    bn._check_input_dim(x)
    dims = [0, *range(2, x.dim())]  # all but the channels
    shape = (1, -1) + (1,) * (x.dim() - 2)
    xf = x.float()
    local = torch.cat([xf.sum(dims), xf.new_full((1,), x.numel() // x.shape[1])])  # (C + 1,): sums and count
    total = _AllReduce.apply(local)
    count, mean = total[-1], total[:-1] / total[-1]  # (), (C,)
    centred = xf - mean.reshape(shape)
    var = _AllReduce.apply(centred.square().sum(dims)) / count  # (C,), biased, as batch norm normalises
    out = centred * torch.rsqrt(var + bn.eps).reshape(shape)
    if bn.affine:
        out = out * bn.weight.reshape(shape) + bn.bias.reshape(shape)
    if bn.training and bn.track_running_stats:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            factor = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
            unbiased = var * count / (count - 1).clamp(min=1)
            bn.running_mean.lerp_(mean.to(bn.running_mean.dtype), factor)
            bn.running_var.lerp_(unbiased.to(bn.running_var.dtype), factor)
    return out.to(x.dtype)


def batch_norm_layers(nets: dict[str, nn.Module]) -> list[tuple[str, nn.Module]]:
    """Every batch-norm layer of the networks, as ("NET.path", layer)."""
    return [
        (f"{name}.{path}", m)
        for name, net in nets.items()
        for path, m in net.named_modules()
        if isinstance(m, _BatchNorm)
    ]


def convert(net: nn.Module) -> nn.Module:
    """Replace ``net``'s BatchNorm1d/2d/3d layers in place by synced ones sharing their parameters and buffers:
    torch's SyncBatchNorm for a layer on CUDA, GlobalBatchNorm for one on the CPU."""
    for name, child in net.named_children():
        if type(child) in PLAIN:
            tensors = [*child.parameters(), *child.buffers()]
            kind = nn.SyncBatchNorm if tensors and tensors[0].device.type == "cuda" else GlobalBatchNorm
            sync = kind(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            if child.affine:
                sync.weight, sync.bias = child.weight, child.bias  # the same Parameters: the optimizers keep them
            if child.track_running_stats:
                sync.running_mean, sync.running_var = child.running_mean, child.running_var
                sync.num_batches_tracked = child.num_batches_tracked
            sync.train(child.training)
            setattr(net, name, sync)
        else:
            convert(child)
    return net


def prepare(nets: dict[str, nn.Module], options: Any, distributed: bool, is_main: bool, variant: str) -> None:
    """``--sync-bn``: convert the networks' batch norm before the DDP wrap; refuse networks it cannot be right for.

    Asks the networks, not the family: none with batch norm, or one whose batch norm is its own kind (a
    subclass with its own forward), is refused in one line. In one process it is a no-op, said in one line.
    """
    if not options.sync_bn:
        return
    layers = batch_norm_layers(nets)
    if not layers:
        raise ConfigError(
            f"--sync-bn: none of {variant}'s networks ({', '.join(nets)}) has a batch-norm layer; leave out --sync-bn"
        )
    own = [path for path, m in layers if type(m) not in PLAIN and not isinstance(m, SYNCED)]
    if own:
        raise ConfigError(
            f"--sync-bn: {variant}'s batch norm {own[0]} is a {type(dict(layers)[own[0]]).__name__}, its own kind "
            f"of batch norm that SyncBatchNorm would replace and change; leave out --sync-bn"
        )
    if not distributed:
        if is_main and options.progress != "off":
            print("note: --sync-bn has no effect in one process (it applies under torchrun)", file=sys.stderr)
        return
    for net in nets.values():
        convert(net)
