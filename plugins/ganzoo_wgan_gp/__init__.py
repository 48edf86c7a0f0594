"""WGAN-GP (Gulrajani et al. 2017) as a ganzoo plugin: hookimpls and lazy references only."""

import ganzoo


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(ganzoo.Variant(
        name="wgan-gp",
        summary="Wasserstein GAN with gradient penalty: critic without batch norm, n_critic steps",
        paper="Gulrajani et al. 2017. Improved Training of Wasserstein GANs. NeurIPS. arXiv:1704.00028",
        config="ganzoo_wgan_gp.config:WGANGPConfig",
        build="ganzoo_wgan_gp.models:build",
        step="ganzoo_wgan_gp.step:WGANGPStep",
        data_kind="image,points",
    ))
