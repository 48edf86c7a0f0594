"""WGAN-GP (Gulrajani et al. 2017) as a ganzoo plugin: hookimpls and lazy references only."""

import ganzoo
from ganzoo.metrics import DIGITS_PROTOCOL

# What trains on the 2D mixtures in minutes on a CPU: the toy tasks' gradient penalty 0.1, narrower
# nets, faster rates that decay over the second half, EMA. ring8 and grid25 each get their own rate
# and batch, and enough steps with a slow enough EMA that every mode is found and about 90% or more
# of samples land near one (the figures: docs/benchmarks.md, "2D mixtures").
POINTS_RECIPE = {
    "points": {"hidden": 128, "gp_lambda": 0.1, "decay_start": 0.5, "ema": 0.99},
    "ring8": {"lr": 5e-4, "batch_size": 256, "steps": 8000, "ema": 0.999},
    "grid25": {"lr": 1e-3, "batch_size": 64, "steps": 20000, "ema": 0.999},
}


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(
        ganzoo.Variant(
            name="wgan-gp",
            summary="Wasserstein GAN with gradient penalty: critic without batch norm, n_critic steps",
            paper="Gulrajani et al. 2017. Improved Training of Wasserstein GANs. NeurIPS. arXiv:1704.00028",
            config="ganzoo_wgan_gp.config:WGANGPConfig",
            build="ganzoo_wgan_gp.models:build",
            step="ganzoo_wgan_gp.step:WGANGPStep",
            data_kind="image,points",
            suggests=POINTS_RECIPE,
        )
    )


@ganzoo.hookimpl
def ganzoo_register_models(register):
    register(
        ganzoo.ModelCard(
            name="wgan-gp-mnist",
            variant="wgan-gp",
            summary="WGAN-GP on mnist-5k, 32x32 grayscale (ngf 64, ndf 32, lr 2e-4 decaying over the last 40%, "
            "7,500 iterations, EMA 0.999)",
            weights="bundled:ganzoo_wgan_gp/pretrained/wgan-gp-mnist",
            dataset="mnist-5k",
            recipe="ganzoo train wgan-gp --data mnist-5k --image-size 32 --channels 1 -c ngf=64 -c ndf=32 -c lr=2e-4 "
            "-c decay_start=0.6 --steps 7500 --ema 0.999 --out runs/wgan-gp-mnist",
            config={"image_size": 32, "channels": 1, "ngf": 64, "ndf": 32, "lr": 2e-4, "decay_start": 0.6},
            metrics={
                "recognisable": {"value": 0.627, "protocol": DIGITS_PROTOCOL},
                "min_class_fraction": {"value": 0.059, "protocol": DIGITS_PROTOCOL},
            },
        )
    )
