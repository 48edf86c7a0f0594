"""The original GAN (Goodfellow et al. 2014) as a ganzoo plugin: hookimpls and lazy references only."""

import ganzoo


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
