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
    _register_released(register)


@ganzoo.hookimpl
def ganzoo_register_importers(register):
    register(
        ganzoo.ImporterSpec(
            name="junyanz-pix2pix",
            summary="the pix2pix authors' released generators (a bare state dict of one UnetGenerator, 'NAME.pth')",
            variant="pix2pix",
            convert="ganzoo_pix2pix.importers:convert_junyanz_pix2pix",
            upstream="junyanz/pytorch-CycleGAN-and-pix2pix",
        )
    )


AUTHORS = "https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix"
RELEASES = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch"
# catalog name -> (upstream file, what it translates A -> B, the upstream's data set and the direction it read it)
RELEASED = {
    "pix2pix-facades": (
        "facades_label2photo",
        "facade label map -> photo",
        "facades: the CMP Facades data set, read B to A (--direction BtoA)",
    ),
    "pix2pix-edges2shoes": (
        "edges2shoes",
        "shoe edge map -> photo",
        "edges2shoes: UT Zappos50K photos, edges by HED and post-processing",
    ),
    "pix2pix-map2sat": ("map2sat", "Google Maps map -> satellite photo", "maps: images scraped from Google Maps"),
    "pix2pix-sat2map": ("sat2map", "satellite photo -> Google Maps map", "maps: images scraped from Google Maps"),
    "pix2pix-day2night": (
        "day2night",
        "daytime -> night-time outdoor photo",
        "night2day: outdoor webcam pairs of Laffont et al. 2014 (Transient Attributes)",
    ),
}
# the pairs as the upstream ships them, read so that A is this model's input (where that order is known here);
# elsewhere aligned:ROOT, side-by-side pairs with the input on the left (aligned-btoa:ROOT reads them the other way)
DATA_SPECS = {"pix2pix-facades": "aligned-btoa:datasets/facades", "pix2pix-edges2shoes": "aligned:datasets/edges2shoes"}
INPUT = (
    "RGB, resized to 256x256 (bicubic) and scaled to [-1, 1], as the authors' test.py does (load_size = crop_size "
    "= 256); output 256x256 in [-1, 1]; batch norms use each image's own statistics and dropout is off (the "
    "authors' test.py keeps dropout on: docs/translation.md)"
)
HASH_POLICY = (
    "the upstream publishes no sha256: the first download's is recorded in $GANZOO_CACHE/imported/pins.json and "
    "every later download must match it"
)


def _register_released(register) -> None:
    """The authors' released U-Nets, one catalog entry each (converted on first load)."""
    for name, (upstream, what, data) in RELEASED.items():
        register(
            ganzoo.ModelCard(
                name=name,
                variant="pix2pix",
                summary=f"{what}, 256x256: the pix2pix authors' released U-Net, imported on first load",
                weights="import",
                dataset="aligned:ROOT",
                recipe=f"ganzoo train pix2pix --data {DATA_SPECS.get(name, 'aligned:ROOT')} --image-size 256 "
                f"--out runs/{name}",
                config={
                    "image_size": 256,
                    "channels": 3,
                    "ngf": 64,
                    "n_downs": 8,
                    "norm_stats": "image",
                },
                license="BSD-2-Clause",
                source={
                    "importer": "junyanz-pix2pix",
                    "url": f"{RELEASES}/{upstream}.pth",
                    "direction": f"a2b: {what} (pix2pix translates one way)",
                    "input": INPUT,
                    "data": f"{data} (the upstream names no licence for its data sets; it asks users to cite "
                    "their papers)",
                    "hash_policy": HASH_POLICY,
                    "paper": "Isola, Zhu, Zhou, Efros 2017. arXiv:1611.07004",
                    "homepage": AUTHORS,
                },
            )
        )
