"""The original GAN (Goodfellow et al. 2014) as a ganzoo plugin: hookimpls and lazy references only."""

import ganzoo
from ganzoo.metrics import DIGITS_PROTOCOL, PREVIOUS_DIGITS_PROTOCOL


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
            summary="The original MLP GAN on mnist-5k, 32x32 grayscale, with batch norm in G and EMA 0.995",
            weights="bundled:ganzoo_vanilla/pretrained/vanilla-mnist",
            dataset="mnist-5k",
            recipe="ganzoo train vanilla --data mnist-5k --image-size 32 --channels 1 -c g_norm=batch "
            "--steps 6000 --ema 0.995 --out runs/vanilla-mnist",
            config={"image_size": 32, "channels": 1, "g_norm": "batch"},
            metrics={
                "recognisable": {"value": 0.139, "protocol": DIGITS_PROTOCOL},
                "min_class_fraction": {"value": 0.012, "protocol": DIGITS_PROTOCOL},
                "recognisable_previous_judge": {"value": 0.72, "protocol": PREVIOUS_DIGITS_PROTOCOL},
            },
        )
    )
