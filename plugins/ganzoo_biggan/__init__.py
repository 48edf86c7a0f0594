"""BigGAN and BigGAN-deep (Brock, Donahue, Simonyan 2019) as a ganzoo plugin: hookimpls and lazy references
only, and DeepMind's BigGAN-deep ImageNet generators (as huggingface/pytorch-pretrained-BigGAN converted them)
in the catalog."""

from pathlib import Path

import ganzoo
from ganzoo.metrics import conditional_card_metrics

PAPER = (
    "Brock, Donahue, Simonyan 2019. Large Scale GAN Training for High Fidelity Natural Image Synthesis. "
    "ICLR. arXiv:1809.11096"
)


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(
        ganzoo.Variant(
            name="biggan",
            summary="BigGAN: class-conditional ResNet GAN with shared embedding, hierarchical z, self-attention, "
            "orthogonal regularisation; arch=deep for BigGAN-deep",
            paper=PAPER,
            config="ganzoo_biggan.config:BigGANConfig",
            build="ganzoo_biggan.models:build",
            step="ganzoo_biggan.step:BigGANStep",
            data_kind="image",
        )
    )


def imagenet_classes() -> list[str]:
    """ImageNet's 1,000 class names in the ILSVRC-2012 index order (torchvision's list; BigGAN's labels)."""
    return (Path(__file__).parent / "imagenet_classes.txt").read_text(encoding="utf-8").splitlines()


HUB_URL = "https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-{}-pytorch_model.bin"
MEASURED_PROTOCOL = (
    "measured by open-mmlab/mmagic on this very converted file (configs/biggan/README.md, "
    "'Converted weights'), ImageNet1k, their evaluation protocol; not re-measured by ganzoo. The "
    "paper's own Table 2 (FID/IS per truncation) is not quoted: ganzoo had no copy of it to check"
)
# resolution -> (parameters of upstream's generator, sha256 of upstream's file where one is recorded,
#                (FID, IS) that mmagic measured on the converted file)
DEEP = {
    128: (50_388_609, "", (5.9471, 107.161)),
    256: (55_880_833, "5900ef4065047e3aa0d1b66197b7f2664dceb59b27080e414ad57e203c485bc5", (11.3151, 135.107)),
    512: (56_163_905, "", (16.8728, 124.368)),
}
# pytorch-pretrained-BigGAN's layout for all three: 2 blocks per resolution from 4x4, 128 channels per width unit,
# 51 batch-norm statistics per truncation, a to-RGB conv of 128 outputs of which the first 3 are the image
DEEP_CONFIG = {
    "arch": "deep",
    "channels": 3,
    "nz": 128,
    "g_ch": 128,
    "num_classes": 1000,
    "shared_dim": 128,
    "attn": 64,
    "rgb_ch": 128,
    "n_stats": 51,
    "bn_eps": 1e-4,
    "sn_eps": 1e-4,
}


MNIST_RECIPE = (
    "ganzoo train biggan --data mnist-5k --image-size 32 --channels 1 -c num_classes=10 -c g_ch=16 "
    "-c d_ch=16 -c n_dis=1 -c lr=2e-4 -c lr_d=2e-4 -c augment=translation -c loss=non-saturating "
    "-c mode_seeking=0.25 --batch-size 32 --steps 8000 --ema 0.999 --out runs/biggan-mnist"
)


@ganzoo.hookimpl
def ganzoo_register_models(register):
    register(
        ganzoo.ModelCard(
            name="biggan-mnist",
            variant="biggan",
            summary="Class-conditional BigGAN on the bundled mnist-5k digits, 32x32 grayscale, trained on a CPU: "
            "sample(n, labels=3) draws 3s, as varied as real ones",
            weights="bundled:ganzoo_biggan/pretrained/biggan-mnist",
            dataset="mnist-5k",
            recipe=MNIST_RECIPE,
            config={
                "image_size": 32,
                "channels": 1,
                "num_classes": 10,
                "g_ch": 16,
                "d_ch": 16,
                "n_dis": 1,
                "lr": 2e-4,
                "lr_d": 2e-4,
                "augment": "translation",
                "loss": "non-saturating",
                "mode_seeking": 0.25,
            },
            metrics={
                **conditional_card_metrics(
                    requested=0.894,
                    min_requested=0.81,
                    recognisable=0.894,
                    min_class_fraction=0.093,
                    spread_ratio=1.07,
                    spread_worst=0.942,
                    intra_fd=47.3,
                    share=1.028,
                    worst_share=0.931,
                ),
                "training_seconds": {
                    "value": 4750.3,
                    "protocol": "seconds in the engine's loop, fp32, one torch thread beside one other training run "
                    "on a 2-core AMD EPYC (torch reports AVX512)",
                },
            },
            license="MIT",
        )
    )
    for size, (params, sha256, measured) in DEEP.items():
        pin_note = (
            "sha256 as recorded by a third party's pinned download list; upstream publishes none"
            if sha256
            else "upstream publishes no sha256: the first download's is recorded and enforced"
        )
        register(
            ganzoo.ModelCard(
                name=f"biggan-deep-{size}",
                variant="biggan",
                summary=f"DeepMind's BigGAN-deep, ImageNet {size}x{size}, 1,000 classes, "
                f'{params / 1e6:.1f}M parameters: sample(4, labels="golden retriever", truncation=0.4) ({pin_note})',
                weights="import",
                dataset="folder:ILSVRC2012/train",  # the importer records ImageNet's 1,000 class names
                recipe=(
                    f"ganzoo train biggan --data folder:ILSVRC2012/train --image-size {size} -c arch=deep "
                    f"-c num_classes=1000 "
                    f"--batch-size 2048 --ema 0.9999   # the paper's run: 128 to 512 TPUv3 cores, not a CPU's"
                ),
                config={**DEEP_CONFIG, "image_size": size},
                metrics={
                    "fid": {"value": measured[0], "protocol": MEASURED_PROTOCOL},
                    "is": {"value": measured[1], "protocol": MEASURED_PROTOCOL},
                    "parameters": {
                        "value": params,
                        "protocol": "G's parameters, counted by building upstream's model.py "
                        f"with its BigGAN{size} config; ganzoo's G has as many (tests/test_biggan.py)",
                    },
                },
                license="Apache-2.0",
                source={
                    "importer": "pretrained-biggan-deep",
                    "url": HUB_URL.format(size),
                    "sha256": sha256,
                    "resolution": size,
                    "parameters": params,
                    "paper": PAPER,
                    "homepage": "https://github.com/huggingface/pytorch-pretrained-BigGAN",
                    "weights_origin": f"DeepMind's TF Hub module biggan-deep-{size} (Apache-2.0), converted by "
                    "huggingface/pytorch-pretrained-BigGAN",
                },
            )
        )


@ganzoo.hookimpl
def ganzoo_register_importers(register):
    register(
        ganzoo.ImporterSpec(
            name="pretrained-biggan-deep",
            summary="huggingface/pytorch-pretrained-BigGAN's BigGAN-deep generators (128/256/512; 'pytorch_model.bin')",
            variant="biggan",
            convert="ganzoo_biggan.importers:convert_pretrained_biggan_deep",
            upstream="huggingface/pytorch-pretrained-BigGAN",
        )
    )
    register(
        ganzoo.ImporterSpec(
            name="studiogan-biggan",
            summary="PyTorch-StudioGAN BigGAN generators (big_resnet, cBN; 32/128/256/512; "
            "'model=G-...-weights-step=N.pth')",
            variant="biggan",
            convert="ganzoo_biggan.importers:convert_studiogan_biggan",
            upstream="POSTECH-CVLab/PyTorch-StudioGAN",
        )
    )
