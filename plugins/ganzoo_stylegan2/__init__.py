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


NVLABS_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/{}.pkl"
NVLABS_LICENSE = "NVIDIA Source Code License-NC (non-commercial use only)"
NVLABS_PAPER = (
    "Karras, Aittala, Hellsten, Laine, Lehtinen, Aila 2020. Training Generative Adversarial Networks with Limited "
    "Data. NeurIPS. arXiv:2006.06676"
)
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# file -> (resolution, classes, data spec, what upstream's README says of it, the README's base config for it)
NVLABS = {
    "ffhq": (1024, 0, "folder:ffhq", "FFHQ at 1024x1024, trained using original StyleGAN2", "--cfg=stylegan2"),
    "metfaces": (
        1024,
        0,
        "folder:metfaces",
        "MetFaces at 1024x1024, transfer learning from FFHQ using ADA",
        "--cfg=paper1024 --resume=ffhq1024",
    ),
    "afhqcat": (
        512,
        0,
        "folder:afhq/train/cat",
        "AFHQ Cat at 512x512, trained from scratch using ADA",
        "--cfg=paper512",
    ),
    "afhqdog": (
        512,
        0,
        "folder:afhq/train/dog",
        "AFHQ Dog at 512x512, trained from scratch using ADA",
        "--cfg=paper512",
    ),
    "afhqwild": (
        512,
        0,
        "folder:afhq/train/wild",
        "AFHQ Wild at 512x512, trained from scratch using ADA",
        "--cfg=paper512",
    ),
    "cifar10": (32, 10, "cifar10", "Class-conditional CIFAR-10 at 32x32", "--cfg=cifar --cond=1"),
    "brecahad": (512, 0, "folder:brecahad", "BreCaHAD at 512x512, trained from scratch using ADA", "--cfg=paper512"),
}
NVLABS_METRICS = {  # only what upstream's README states; it gives no per-pickle table
    "cifar10": {
        "fid": {
            "value": 2.42,
            "protocol": "upstream's figure, not measured by ganzoo: the README's abstract ('improve the record FID "
            "from 5.59 to 2.42' on CIFAR-10); upstream's metric is fid50k_full (50k generated images against "
            "the full training set); the README does not say this pickle is that very run",
        }
    }
}


@ganzoo.hookimpl(specname="ganzoo_register_models")
def register_nvlabs_models(register):
    for name, (size, classes, dataset, what, cfg) in NVLABS.items():
        kind = f"class-conditional ({classes} classes)" if classes else "unconditional"
        register(
            ganzoo.ModelCard(
                name=f"stylegan2-ada-{name}",
                variant="stylegan2",
                summary=f"NVlabs' StyleGAN2-ADA {name}.pkl, {size}x{size}, {kind}; read without running the "
                f"pickle; NON-COMMERCIAL licence (upstream publishes no sha256: the first download's is recorded)",
                weights="import",
                dataset=dataset,
                recipe=f"python train.py --data=... --gpus=8 {cfg}   # NVlabs/stylegan2-ada-pytorch, the README's base "
                "config for this data; ganzoo imports the network, it does not retrain it",
                config={"image_size": size, "channels": 3, "z_dim": 512, "w_dim": 512, "num_classes": classes},
                metrics=NVLABS_METRICS.get(name, {}),
                license=NVLABS_LICENSE,
                source={
                    "importer": "nvlabs-stylegan2-ada",
                    "url": NVLABS_URL.format(name),
                    "sha256": "",
                    "hash_policy": "upstream publishes no sha256: the first download's is recorded and enforced",
                    "resolution": size,
                    "conditional": bool(classes),
                    **({"classes": CIFAR10_CLASSES} if name == "cifar10" else {}),
                    "upstream_says": what,
                    "upstream_metrics": "cifar10: the README abstract's FID (see metrics)"
                    if name == "cifar10"
                    else ("the README quotes no FID/KID for this file; none is quoted here"),
                    "numerics": "ganzoo computes every layer in float32 with plain PyTorch ops (upstream: custom CUDA "
                    "ops, float16 in the top resolutions on a GPU); images agree to that rounding, not bit for bit",
                    "license": f"{NVLABS_LICENSE}: https://nvlabs.github.io/stylegan2-ada-pytorch/license.html (the "
                    "README's link); non-commercial use only: research or evaluation",
                    "paper": NVLABS_PAPER,
                    "homepage": "https://github.com/NVlabs/stylegan2-ada-pytorch",
                },
            )
        )


@ganzoo.hookimpl
def ganzoo_register_importers(register):
    register(
        ganzoo.ImporterSpec(
            name="nvlabs-stylegan2-ada",
            summary="NVlabs/stylegan2-ada-pytorch network pickles (ffhq.pkl, cifar10.pkl, ...): G_ema and D read as "
            "data, no pickled code run",
            variant="stylegan2",
            convert="ganzoo_stylegan2.nvlabs:convert_nvlabs_stylegan2_ada",
            read="ganzoo_stylegan2.nvlabs_pickle:read_network_pickle",
            upstream="NVlabs/stylegan2-ada-pytorch",
        )
    )
