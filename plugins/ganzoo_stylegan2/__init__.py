"""StyleGAN2 (Karras et al. 2020) with DiffAugment (Zhao et al. 2020) as a ganzoo plugin: hookimpls and
lazy references only."""

import ganzoo
from ganzoo.metrics import DIGITS_PROTOCOL


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(
        ganzoo.Variant(
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
            # two thirds of a digit's pixels sit at exactly -1, a flat black that a linear output only
            # approaches with noise and a tanh saturates to; on mnist-5k the linear output lets
            # training collapse early to one shape (docs/stylegan2.md, "Output range")
            suggests={"mnist-5k": {"output": "tanh"}},
        )
    )


@ganzoo.hookimpl
def ganzoo_register_models(register):
    register(
        ganzoo.ModelCard(
            name="stylegan2-mnist",
            variant="stylegan2",
            summary="StyleGAN2 on the bundled mnist-5k digits, 32x32 grayscale (channel base 1024, tanh output, EMA); "
            "truncation in W, walks and style mixing",
            weights="bundled:ganzoo_stylegan2/pretrained/stylegan2-mnist",
            dataset="mnist-5k",
            recipe="ganzoo train stylegan2 --data mnist-5k --image-size 32 --channels 1 -c channel_base=1024 "
            "-c channel_max=64 -c z_dim=128 -c w_dim=128 -c mapping_layers=2 -c pl_weight=0 -c style_mixing=0 "
            "-c augment=translation -c d_architecture=orig -c r1=1 -c output=tanh --batch-size 32 --ema 0.999 "
            "--steps 9000 --out runs/stylegan2-mnist",
            config={
                "image_size": 32,
                "channels": 1,
                "channel_base": 1024,
                "channel_max": 64,
                "z_dim": 128,
                "w_dim": 128,
                "mapping_layers": 2,
                "pl_weight": 0.0,
                "style_mixing": 0.0,
                "augment": "translation",
                "d_architecture": "orig",
                "r1": 1.0,
                "output": "tanh",
            },
            metrics={
                "recognisable": {"value": 0.798, "protocol": DIGITS_PROTOCOL},
                "min_class_fraction": {"value": 0.079, "protocol": DIGITS_PROTOCOL},
            },
        )
    )
