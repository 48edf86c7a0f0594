"""DCGAN (Radford, Metz and Chintala 2015) as a ganzoo plugin: hookimpls and lazy references only."""

import ganzoo
from ganzoo.metrics import DIGITS_PROTOCOL, STUDIOGAN_PROTOCOL


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(
        ganzoo.Variant(
            name="dcgan",
            summary="Deep convolutional GAN: transposed-conv G, strided-conv D, batch norm, BCE loss",
            paper="Radford, Metz, Chintala 2015. Unsupervised Representation Learning with Deep "
            "Convolutional GANs. arXiv:1511.06434",
            config="ganzoo_dcgan.config:DCGANConfig",
            build="ganzoo_dcgan.models:build",
            step="ganzoo_dcgan.step:DCGANStep",
            data_kind="image",
        )
    )


MMAGIC_PROTOCOL = "reported by mmagic (configs/dcgan/README.md), not re-measured by ganzoo"
STUDIOGAN_DCGAN = f"{STUDIOGAN_PROTOCOL}; the table does not say which of the three released runs it scored"
CELEBA_RECIPE = (
    "ganzoo train dcgan --data celeba:ROOT --image-size 64 --channels 3 --steps 20000 --batch-size 128 "
    "--out runs/dcgan-celeba && ganzoo push runs/dcgan-celeba ORG/dcgan-celeba"
)


@ganzoo.hookimpl
def ganzoo_register_models(register):
    register(
        ganzoo.ModelCard(
            name="dcgan-mnist",
            variant="dcgan",
            summary="DCGAN on the bundled mnist-5k digits, 32x32 grayscale (ngf 64, ndf 32, R1 penalty, EMA 0.999)",
            weights="bundled:ganzoo_dcgan/pretrained/dcgan-mnist",
            dataset="mnist-5k",
            recipe="ganzoo train dcgan --data mnist-5k --image-size 32 --channels 1 -c ngf=64 -c ndf=32 -c lr=5e-4 "
            "-c r1=1 -c decay_start=0.5 --steps 10000 --ema 0.999 --precision bf16 --out runs/dcgan-mnist",
            config={"image_size": 32, "channels": 1, "ngf": 64, "ndf": 32, "lr": 5e-4, "r1": 1.0, "decay_start": 0.5},
            metrics={
                "recognisable": {"value": 0.711, "protocol": DIGITS_PROTOCOL},
                "min_class_fraction": {"value": 0.066, "protocol": DIGITS_PROTOCOL},
            },
        )
    )
    register(
        ganzoo.ModelCard(
            name="dcgan-celeba",
            variant="dcgan",
            summary="DCGAN on 64x64 CelebA-Cropped faces: mmagic's published generator, imported on first load",
            weights="import",
            dataset="celeba:ROOT",
            recipe=CELEBA_RECIPE,  # how ganzoo itself would train such a model; the weights are mmagic's
            config={"image_size": 64, "channels": 3, "nz": 100, "ngf": 128, "out_bias": True},
            metrics={
                "swd": {
                    "value": "8.93, 10.53, 50.32 / 23.26 (avg)",
                    "protocol": MMAGIC_PROTOCOL + "; sliced Wasserstein "
                    "distance on 16,384 samples, per Laplacian-pyramid level 64/32/16 and their average",
                },
                "ms_ssim": {"value": 0.2899, "protocol": MMAGIC_PROTOCOL + "; MS-SSIM between 10,000 sample pairs"},
            },
            license="Apache-2.0",
            source={
                "importer": "mmagic-dcgan",
                "url": "https://download.openmmlab.com/mmediting/dcgan/"
                "dcgan_celeba-cropped_64_b128x1_300kiter_20210408_161607-1f8a2277.pth",
                "sha256_prefix": "1f8a2277",  # OpenMMLab names each file after the first 8 hex digits of its sha256
                "paper": "Radford, Metz, Chintala 2015. arXiv:1511.06434",
                "homepage": "https://github.com/open-mmlab/mmagic/tree/main/configs/dcgan",
            },
        )
    )
    register(
        ganzoo.ModelCard(
            name="dcgan-cifar10-studiogan",
            variant="dcgan",
            summary="Unconditional DCGAN on CIFAR-10, 32x32: PyTorch-StudioGAN's published generator, "
            "imported on first load",
            weights="import",
            dataset="cifar10:ROOT",
            recipe="ganzoo train dcgan --data hf:uoft-cs/cifar10 --image-size 32 --channels 3 -c nz=128 "
            "-c g_stem=linear -c g_head=conv3x3 -c bn_eps=1e-4 -c out_bias=true --steps 200000 "
            "--out runs/dcgan-cifar10",
            config={
                "image_size": 32,
                "channels": 3,
                "nz": 128,
                "ngf": 64,
                "out_bias": True,
                "g_stem": "linear",
                "g_head": "conv3x3",
                "bn_eps": 1e-4,
            },
            metrics={
                "fid": {"value": 48.29, "protocol": STUDIOGAN_DCGAN},
                "is": {"value": 6.11, "protocol": STUDIOGAN_DCGAN},
            },
            license="MIT",
            source={
                "importer": "studiogan-dcgan",
                "hub": "Mingguksky/PyTorch-StudioGAN",
                "file": "studiogan_official_ckpt/CIFAR10_tailored/CIFAR10-DCGAN-train-2022_01_11_20_39_29/"
                "model=G-best-weights-step=50000.pth",
                "sha256": "e693dc410b8afd81c16b4a3092d4239d71ce4eda05163f91e73ed6598243325e",  # the Hub's LFS sha256
                "paper": "Radford, Metz, Chintala 2015, arXiv:1511.06434; "
                "Kang, Shin, Park 2023 (StudioGAN), arXiv:2206.09479",
                "homepage": "https://github.com/POSTECH-CVLab/PyTorch-StudioGAN",
            },
        )
    )


@ganzoo.hookimpl
def ganzoo_register_importers(register):
    register(
        ganzoo.ImporterSpec(
            name="mmagic-dcgan",
            summary="mmagic / MMGeneration DCGAN checkpoints (.pth, {'meta', 'state_dict'}); "
            "the generator, BGR made RGB",
            variant="dcgan",
            convert="ganzoo_dcgan.importers:convert_mmagic_dcgan",
            upstream="open-mmlab/mmagic",
        )
    )
    register(
        ganzoo.ImporterSpec(
            name="studiogan-dcgan",
            summary="PyTorch-StudioGAN DCGAN generators "
            "(deep_conv backbone, unconditional; 'model=G-...-weights-step=N.pth')",
            variant="dcgan",
            convert="ganzoo_dcgan.importers:convert_studiogan_dcgan",
            upstream="POSTECH-CVLab/PyTorch-StudioGAN",
        )
    )
