"""StyleGAN2 (Karras et al. 2020) with DiffAugment (Zhao et al. 2020) as a ganzoo plugin: hookimpls and
lazy references only."""

import ganzoo


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(ganzoo.Variant(
        name="stylegan2",
        summary="Style-based generator (mapping net, modulated convs, noise, skip G, residual D), lazy R1 and "
                "path-length regularisation, style mixing, DiffAugment; pure PyTorch",
        paper="Karras, Laine, Aittala, Hellsten, Lehtinen, Aila 2020. Analyzing and Improving the Image Quality "
              "of StyleGAN. CVPR. arXiv:1912.04958; Zhao, Liu, Lin, Zhu, Han 2020. Differentiable Augmentation "
              "for Data-Efficient GAN Training. NeurIPS. arXiv:2006.10738",
        config="ganzoo_stylegan2.config:StyleGAN2Config",
        build="ganzoo_stylegan2.models:build",
        step="ganzoo_stylegan2.step:StyleGAN2Step",
        data_kind="image",
    ))
