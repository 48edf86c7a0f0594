"""pix2pix (Isola et al. 2017) as a ganzoo plugin: hookimpls and lazy references only."""

import ganzoo
from ganzoo.metrics import TRANSLATION_PROTOCOL


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(
        ganzoo.Variant(
            name="pix2pix",
            summary="Paired image-to-image translation: U-Net generator, conditional PatchGAN, cGAN + L1 loss",
            paper="Isola, Zhu, Zhou, Efros 2017. Image-to-Image Translation with Conditional Adversarial "
            "Networks. CVPR. arXiv:1611.07004",
            config="ganzoo_pix2pix.config:Pix2PixConfig",
            build="ganzoo_pix2pix.models:build",
            step="ganzoo_pix2pix.step:Pix2PixStep",
            data_kind="paired",
            task="translate",
        )
    )


@ganzoo.hookimpl
def ganzoo_register_models(register):
    protocol = TRANSLATION_PROTOCOL
    register(
        ganzoo.ModelCard(
            name="pix2pix-mnist-thick",
            variant="pix2pix",
            summary="Thin -> thick strokes (3x3 dilation), learned from pairs of mnist-5k digits (32x32, U-Net ngf 16)",
            weights="bundled:ganzoo_pix2pix/pretrained/pix2pix-mnist-thick",
            dataset="mnist-5k-thick-paired",
            recipe="ganzoo train pix2pix --data mnist-5k-thick-paired --image-size 32 --channels 1 -c ngf=16 -c ndf=16 "
            "--steps 1500 --batch-size 16 --out runs/pix2pix-mnist-thick",
            config={"image_size": 32, "channels": 1, "ngf": 16, "ndf": 16},
            metrics={
                "a2b_mae": {"value": 0.0166, "protocol": protocol},
                "a2b_label_kept": {"value": 0.93, "protocol": protocol},
                "true_target_label_kept": {"value": 0.908, "protocol": protocol},
                "identity_mae": {"value": 0.1107, "protocol": protocol},
            },
        )
    )
