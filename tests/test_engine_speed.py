"""Less work per iteration: frozen networks give no weight gradients, optimizers run fused kernels."""

from __future__ import annotations

import pytest
import torch

import ganzoo
from ganzoo.engine import StepContext
from ganzoo.engine.trainer import use_fast_kernels

from .test_engine import QUIET

SMALL = {  # variant -> (data, tiny config)
    "vanilla": ("ring8", dict(g_hidden=[16], d_hidden=[16])),
    "dcgan": ("mnist-5k", dict(image_size=16, channels=1, ngf=8, ndf=8)),
    "dcgan-r1": ("mnist-5k", dict(image_size=16, channels=1, ngf=8, ndf=8, r1=1.0)),
    "wgan-gp": ("mnist-5k", dict(image_size=16, channels=1, ngf=8, ndf=8, n_critic=2)),
    "cyclegan": ("mnist-5k-inverted", dict(image_size=32, channels=1, ngf=4, ndf=4, pool_size=2)),
    "pix2pix": ("mnist-5k-thick-paired", dict(image_size=32, channels=1, ngf=4, ndf=4)),
    "sngan": ("mnist-5k", dict(g_ch=8, d_ch=8, n_dis=2, num_classes=10)),
}


@pytest.mark.parametrize("name", list(SMALL))
def test_an_update_finds_gradients_only_on_the_networks_it_steps(tmp_path, monkeypatch, name):
    """When optimizer X steps, its own parameters hold gradients and no other network's do (D's from G's loss)."""
    seen: list[tuple[str, list[str], bool]] = []
    nets: dict[str, torch.nn.Module] = {}
    original = StepContext.step

    def step(ctx: StepContext, opt_name: str) -> None:
        own = {id(p) for group in ctx.optimizers[opt_name].param_groups for p in group["params"]}
        others = sorted(
            {
                net_name
                for net_name, net in ctx.raw_models.items()
                for p in net.parameters()
                if id(p) not in own and p.grad is not None
            }
        )
        mine = all(
            p.grad is not None
            for group in ctx.optimizers[opt_name].param_groups
            for p in group["params"]
            if p.requires_grad
        )
        seen.append((opt_name, others, mine))
        nets.update(ctx.raw_models)
        original(ctx, opt_name)

    monkeypatch.setattr(StepContext, "step", step)
    data, config = SMALL[name]
    ganzoo.train(name.split("-r1")[0], data, steps=2, out=tmp_path / "run", batch_size=4, **QUIET, **config)
    assert {s[0] for s in seen} == {"D", "G"}
    leaks = [(opt_name, others) for opt_name, others, _ in seen if others]
    assert not leaks, f"networks held weight gradients when another optimizer stepped: {leaks}"
    assert all(mine for _, _, mine in seen), "an optimizer stepped without gradients on all its parameters"
    assert all(p.requires_grad for net in nets.values() for p in net.parameters())  # frozen ones were restored


def _context(nets: dict[str, torch.nn.Module]) -> StepContext:
    opts = {n: torch.optim.SGD(net.parameters(), lr=0.1) for n, net in nets.items()}
    return StepContext(nets, nets, opts, None, torch.device("cpu"), None, lambda: None, lambda: None)


def test_frozen_keeps_input_gradients_restores_on_error_and_names_unknown_networks():
    torch.manual_seed(0)
    g, d = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
    ctx = _context({"G": g, "D": d})
    with ctx.frozen("D"):
        assert not any(p.requires_grad for p in d.parameters())
        d(g(torch.randn(5, 3))).sum().backward()
    assert d.weight.grad is None and d.bias.grad is None
    assert g.weight.grad is not None and g.weight.grad.abs().sum() > 0  # the input gradient reached G
    assert all(p.requires_grad for p in d.parameters())
    with pytest.raises(ZeroDivisionError), ctx.frozen("D"):
        raise ZeroDivisionError("an error inside frozen()")  # frozen() must still restore requires_grad
    assert all(p.requires_grad for p in d.parameters())
    with pytest.raises(KeyError, match=r"frozen\(\) got \['C'\]; the networks are \['D', 'G'\]"), ctx.frozen("C"):
        pass


def test_optimizers_get_fused_kernels_unless_the_step_chose():
    net = torch.nn.Linear(3, 3)
    adam, chosen, rms = (
        torch.optim.Adam(net.parameters()),
        torch.optim.Adam(net.parameters(), foreach=False),
        torch.optim.RMSprop(net.parameters()),
    )
    for opt in (adam, chosen, rms):
        use_fast_kernels(opt)
    assert adam.param_groups[0]["fused"] is True
    assert chosen.param_groups[0]["foreach"] is False and not chosen.param_groups[0]["fused"]
    assert rms.param_groups[0]["foreach"] is True  # no fused RMSprop: the multi-tensor kernels


def test_a_channels_last_run_resumes_exactly(tmp_path):
    """Saved optimizer state is contiguous; restored, it must meet NHWC weights and gradients element for element."""
    from .test_engine import TINY, assert_identical, final_state

    opts = dict(batch_size=8, checkpoint_every=0, channels_last=True, **QUIET, **{**TINY, "channels": 3})
    straight = ganzoo.train("dcgan", "mnist-5k", steps=6, out=tmp_path / "a", **opts)
    ganzoo.train("dcgan", "mnist-5k", steps=3, out=tmp_path / "b", **opts)
    resumed = ganzoo.train(out=tmp_path / "b", steps=6, resume=True)
    assert_identical(final_state(straight), final_state(resumed))


def test_channels_last_parameters_get_stride_aware_kernels():
    conv = torch.nn.Conv2d(4, 4, 3).to(memory_format=torch.channels_last)
    adam = torch.optim.Adam(conv.parameters())
    use_fast_kernels(adam)
    assert adam.param_groups[0]["foreach"] is True and not adam.param_groups[0]["fused"]
