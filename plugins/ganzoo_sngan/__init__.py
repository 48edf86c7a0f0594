"""SN-GAN (Miyato et al. 2018) with the projection discriminator (Miyato & Koyama 2018) as a ganzoo
plugin: hookimpls and lazy references only."""

import ganzoo
from ganzoo.metrics import STUDIOGAN_PROTOCOL, conditional_card_metrics


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(
        ganzoo.Variant(
            name="sngan",
            summary="Spectrally normalised ResNet GAN, hinge loss; "
            "class-conditional by default (CBN in G, projection D)",
            paper="Miyato, Kataoka, Koyama, Yoshida 2018. Spectral Normalization for GANs. ICLR. arXiv:1802.05957; "
            "Miyato, Koyama 2018. cGANs with Projection Discriminator. ICLR. arXiv:1802.05637",
            config="ganzoo_sngan.config:SNGANConfig",
            build="ganzoo_sngan.models:build",
            step="ganzoo_sngan.step:SNGANStep",
            data_kind="image",
        )
    )


STUDIOGAN_SNGAN = f"{STUDIOGAN_PROTOCOL}; the table does not say which released run it scored"
STUDIOGAN_CONFIG = {
    "image_size": 32,
    "channels": 3,
    "nz": 128,
    "g_ch": 256,
    "num_classes": 10,
    "bn_eps": 1e-4,
}  # resnet, cBN
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@ganzoo.hookimpl
def ganzoo_register_models(register):
    register(
        ganzoo.ModelCard(
            name="sngan-mnist",
            variant="sngan",
            summary="Class-conditional SN-GAN on the bundled mnist-5k digits, 32x32 grayscale: "
            "sample(n, labels=3) draws 3s",
            weights="bundled:ganzoo_sngan/pretrained/sngan-mnist",
            dataset="mnist-5k",
            recipe="ganzoo train sngan --data mnist-5k --image-size 32 --channels 1 -c num_classes=10 -c g_ch=32 "
            "-c d_ch=32 -c n_dis=1 -c lr=5e-4 -c g_batch_factor=1 -c decay_start=0.5 --batch-size 32 --steps 4000 "
            "--ema 0.999 --out runs/sngan-mnist",
            config={
                "image_size": 32,
                "channels": 1,
                "num_classes": 10,
                "g_ch": 32,
                "d_ch": 32,
                "n_dis": 1,
                "lr": 5e-4,
                "g_batch_factor": 1,
                "decay_start": 0.5,
            },
            metrics=conditional_card_metrics(
                requested=0.978,
                min_requested=0.91,
                recognisable=0.979,
                min_class_fraction=0.096,
                spread_ratio=0.744,
                spread_worst=0.636,
                intra_fd=108.7,
                share=1.124,
                worst_share=1.046,
            ),
        )
    )
    register(
        ganzoo.ModelCard(
            name="sngan-cifar10-studiogan",
            variant="sngan",
            summary="Class-conditional SN-GAN on CIFAR-10: PyTorch-StudioGAN's published generator "
            "(its sha256 recorded at first download)",
            weights="import",
            dataset="cifar10:ROOT",
            # hf:uoft-cs/cifar10: the Hub copy of CIFAR-10
            recipe="ganzoo train sngan --data hf:uoft-cs/cifar10 --steps 100000 --out runs/sngan-cifar10",
            config=STUDIOGAN_CONFIG,
            metrics={
                "fid": {"value": 9.01, "protocol": STUDIOGAN_SNGAN},
                "is": {"value": 8.83, "protocol": STUDIOGAN_SNGAN},
            },
            license="MIT",
            source={
                "importer": "studiogan-sngan",
                "hub": "Mingguksky/PyTorch-StudioGAN",
                "file": "studiogan_official_ckpt/CIFAR10_tailored/CIFAR10-SNGAN-train-2022_03_06_02_24_46/"
                "model=G-best-weights-step=88000.pth",
                "sha256": "",  # none published where this project could read it: recorded at first download
                "classes": CIFAR10_CLASSES,
                "paper": "Miyato et al. 2018, arXiv:1802.05957; Kang, Shin, Park 2023 (StudioGAN), arXiv:2206.09479",
                "homepage": "https://github.com/POSTECH-CVLab/PyTorch-StudioGAN",
            },
        )
    )
    register(
        ganzoo.ModelCard(
            name="sngan-diffaug-cifar10-studiogan",
            variant="sngan",
            summary="Class-conditional SN-GAN trained with DiffAugment on CIFAR-10: "
            "PyTorch-StudioGAN's published generator",
            weights="import",
            dataset="cifar10:ROOT",
            recipe="ganzoo train sngan --data hf:uoft-cs/cifar10 --steps 200000 -c augment=translation,cutout "
            "--out runs/sngan-diffaug-cifar10",  # StudioGAN's DiffAugment also shifts colour, which ganzoo's lacks
            config=STUDIOGAN_CONFIG,  # no upstream number is published for this run
            license="MIT",
            source={
                "importer": "studiogan-sngan",
                "hub": "Mingguksky/PyTorch-StudioGAN",
                "file": "studiogan_official_ckpt/Efficient-CIFAR10-100%/"
                "CIFAR10-SNGAN-DiffAug-train-2022_02_26_03_56_11/model=G-best-weights-step=164000.pth",
                # the Hub's Git LFS SHA256
                "sha256": "1d0b65d314f9845c6c1d83d1c52e7be21221c20f68e078b441f072af1a538a2a",
                "classes": CIFAR10_CLASSES,
                "paper": "Miyato et al. 2018, arXiv:1802.05957; Zhao et al. 2020 (DiffAugment), arXiv:2006.10738; "
                "Kang, Shin, Park 2023 (StudioGAN), arXiv:2206.09479",
                "homepage": "https://github.com/POSTECH-CVLab/PyTorch-StudioGAN",
            },
        )
    )


@ganzoo.hookimpl
def ganzoo_register_importers(register):
    register(
        ganzoo.ImporterSpec(
            name="studiogan-sngan",
            summary="PyTorch-StudioGAN SNGAN generators "
            "(resnet backbone, cBN or plain BN; 'model=G-...-weights-step=N.pth')",
            variant="sngan",
            convert="ganzoo_sngan.importers:convert_studiogan_sngan",
            upstream="POSTECH-CVLab/PyTorch-StudioGAN",
        )
    )
