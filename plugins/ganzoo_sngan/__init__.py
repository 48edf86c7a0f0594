"""SN-GAN (Miyato et al. 2018) with the projection discriminator (Miyato & Koyama 2018) as a ganzoo
plugin: hookimpls and lazy references only."""

import ganzoo


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(ganzoo.Variant(
        name="sngan",
        summary="Spectrally normalised ResNet GAN, hinge loss; class-conditional by default (CBN in G, projection D)",
        paper="Miyato, Kataoka, Koyama, Yoshida 2018. Spectral Normalization for GANs. ICLR. arXiv:1802.05957; "
              "Miyato, Koyama 2018. cGANs with Projection Discriminator. ICLR. arXiv:1802.05637",
        config="ganzoo_sngan.config:SNGANConfig",
        build="ganzoo_sngan.models:build",
        step="ganzoo_sngan.step:SNGANStep",
        data_kind="image",
    ))
