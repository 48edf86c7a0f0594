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


CELEBA_RECIPE = ("ganzoo train dcgan --data celeba:ROOT --image-size 64 --channels 3 --steps 20000 --batch-size 128 "
                 "--out runs/dcgan-celeba && ganzoo push runs/dcgan-celeba ORG/dcgan-celeba")


@ganzoo.hookimpl
def ganzoo_register_models(register):
    register(ganzoo.ModelCard(
        name="dcgan-celeba",
        variant="dcgan",
        summary="DCGAN on 64x64 CelebA faces, the paper's setting (weights not published yet)",
        weights="recipe",
        dataset="celeba:ROOT",
        recipe=CELEBA_RECIPE,
        config={"image_size": 64, "channels": 3},
    ))
