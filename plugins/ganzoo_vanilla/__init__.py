"""The original GAN (Goodfellow et al. 2014) as a ganzoo plugin: hookimpls and lazy references only."""

import ganzoo
from ganzoo.metrics import DIGITS_PROTOCOL


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(
        ganzoo.Variant(
            name="vanilla",
            summary="The original GAN: MLP generator and discriminator, minimax or non-saturating loss",
            paper="Goodfellow et al. 2014. Generative Adversarial Nets. NeurIPS. arXiv:1406.2661",
            config="ganzoo_vanilla.config:VanillaConfig",
            build="ganzoo_vanilla.models:build",
            step="ganzoo_vanilla.step:VanillaStep",
            data_kind="image,points",
        )
    )


@ganzoo.hookimpl
def ganzoo_register_models(register):
    register(
        ganzoo.ModelCard(
            name="vanilla-mnist",
            variant="vanilla",
            summary="The original MLP GAN on mnist-5k, 28x28 grayscale (MNIST's own size), with batch norm in G, "
            "a wide G, 18,000 steps and EMA 0.999",
            weights="bundled:ganzoo_vanilla/pretrained/vanilla-mnist",
            dataset="mnist-5k",
            recipe="ganzoo train vanilla --data mnist-5k --image-size 28 --channels 1 -c g_norm=batch "
            "-c 'g_hidden=[512,1024,2048]' -c decay_start=0.85 -c lr_d=1e-4 --batch-size 128 --steps 18000 "
            "--ema 0.999 --out runs/vanilla-mnist",
            config={
                "image_size": 28,
                "channels": 1,
                "g_norm": "batch",
                "g_hidden": [512, 1024, 2048],
                "decay_start": 0.85,
            },
            metrics={
                "recognisable": {"value": 0.628, "protocol": DIGITS_PROTOCOL},
                "min_class_fraction": {"value": 0.04, "protocol": DIGITS_PROTOCOL},
            },
        )
    )
