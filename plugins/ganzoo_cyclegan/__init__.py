"""CycleGAN (Zhu et al. 2017) as a ganzoo plugin: hookimpls and lazy references only."""

import ganzoo


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(ganzoo.Variant(
        name="cyclegan",
        summary="Unpaired image-to-image translation: ResNet generators, PatchGAN critics, cycle loss",
        paper="Zhu, Park, Isola, Efros 2017. Unpaired Image-to-Image Translation using "
              "Cycle-Consistent Adversarial Networks. ICCV. arXiv:1703.10593",
        config="ganzoo_cyclegan.config:CycleGANConfig",
        build="ganzoo_cyclegan.models:build",
        step="ganzoo_cyclegan.step:CycleGANStep",
        data_kind="unpaired",
        task="translate",
    ))
