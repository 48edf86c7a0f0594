"""DCGAN (Radford, Metz and Chintala 2015) as a ganzoo plugin: hookimpls and lazy references only."""

import ganzoo


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(ganzoo.Variant(
        name="dcgan",
        summary="Deep convolutional GAN: transposed-conv G, strided-conv D, batch norm, BCE loss",
        paper="Radford, Metz, Chintala 2015. Unsupervised Representation Learning with Deep "
              "Convolutional GANs. arXiv:1511.06434",
        config="ganzoo_dcgan.config:DCGANConfig",
        build="ganzoo_dcgan.models:build",
        step="ganzoo_dcgan.step:DCGANStep",
        data_kind="image",
    ))
