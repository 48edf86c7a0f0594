"""The original GAN (Goodfellow et al. 2014) as a ganzoo plugin: hookimpls and lazy references only."""

import ganzoo
from ganzoo.metrics import DIGITS_PROTOCOL


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(ganzoo.Variant(
        name="vanilla",
        summary="The original GAN: MLP generator and discriminator, minimax or non-saturating loss",
        paper="Goodfellow et al. 2014. Generative Adversarial Nets. NeurIPS. arXiv:1406.2661",
        config="ganzoo_vanilla.config:VanillaConfig",
        build="ganzoo_vanilla.models:build",
        step="ganzoo_vanilla.step:VanillaStep",
        data_kind="image,points",
    ))



@ganzoo.hookimpl
def ganzoo_register_models(register):
    register(ganzoo.ModelCard(
        name="vanilla-mnist",
        variant="vanilla",
        summary="The original MLP GAN on mnist-5k, 28x28: sharp digits but mode-collapsed (mostly 1s), as the card says",
        weights="bundled:ganzoo_vanilla/pretrained/vanilla-mnist",
        dataset="mnist-5k",
        recipe="ganzoo train vanilla --data mnist-5k -c image_size=28 -c 'g_hidden=[256,256]' -c 'd_hidden=[512,256]' "
               "--steps 6000 --ema 0.999 --out runs/vanilla-mnist",
        config={"image_size": 28, "channels": 1, "g_hidden": [256, 256], "d_hidden": [512, 256]},
        metrics={"recognisable": {"value": 0.826, "protocol": DIGITS_PROTOCOL},
                 "min_class_fraction": {"value": 0.001, "protocol": DIGITS_PROTOCOL}},
    ))
