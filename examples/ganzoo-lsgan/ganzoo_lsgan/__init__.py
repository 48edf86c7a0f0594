"""Least Squares GAN (Mao et al. 2017) as a ganzoo plugin: the hookimpl and lazy references only."""

import ganzoo


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(
        ganzoo.Variant(
            name="lsgan",
            summary="Least-squares GAN: DCGAN networks, D regresses real to b and fake to a, G aims at c",
            paper="Mao, Li, Xie, Lau, Wang, Smolley 2017. Least Squares Generative Adversarial Networks. "
            "ICCV. arXiv:1611.04076",
            config="ganzoo_lsgan.config:LSGANConfig",
            build="ganzoo_lsgan.models:build",
            step="ganzoo_lsgan.step:LSGANStep",
            data_kind="image",
        )
    )
