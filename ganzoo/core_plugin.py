"""The core's own plugin: the built-in data specs and metrics. Registered like any plugin, always loaded."""

from .hookspecs import hookimpl
from .registry import DatasetSpec, MetricSpec

MNIST_SHAPE = {"image_size": 32, "channels": 1}  # 28x28 digits padded to a power of two, as DCGAN needs


@hookimpl
def ganzoo_register_datasets(register):
    register(
        DatasetSpec(
            "mnist-5k",
            "5,000 real MNIST digits bundled with ganzoo (28x28, 10 classes)",
            "ganzoo.data.mnist:load_mnist5k",
            suggests=MNIST_SHAPE,
        )
    )
    register(
        DatasetSpec(
            "stacked-mnist",
            "mnist-5k digits stacked as R, G, B: 50,000 fixed triples, 1,000 modes (3x32x32)",
            "ganzoo.data.stacked_mnist:load_stacked_mnist",
            suggests={"image_size": 32, "channels": 3},
        )
    )
    register(
        DatasetSpec(
            "ring8",
            "8 Gaussians on a circle of radius 1, std 0.01 (VEEGAN/PacGAN)",
            "ganzoo.data.mixtures:load_ring8",
            kind="points",
        )
    )
    register(
        DatasetSpec(
            "grid25",
            "25 Gaussians on {-4,-2,0,2,4}^2, std 0.05 (VEEGAN/PacGAN)",
            "ganzoo.data.mixtures:load_grid25",
            kind="points",
        )
    )
    register(
        DatasetSpec(
            "mnist",
            "torchvision MNIST under a local ROOT (never downloaded)",
            "ganzoo.data.torchvision_sets:load_mnist",
            needs_arg=True,
            suggests=MNIST_SHAPE,
        )
    )
    register(
        DatasetSpec(
            "cifar10",
            "torchvision CIFAR-10 under a local ROOT (never downloaded)",
            "ganzoo.data.torchvision_sets:load_cifar10",
            needs_arg=True,
            suggests={"image_size": 32, "channels": 3},
        )
    )
    register(
        DatasetSpec(
            "celeba",
            "CelebA under a local ROOT (torchvision layout or img_align_celeba/)",
            "ganzoo.data.torchvision_sets:load_celeba",
            needs_arg=True,
        )
    )
    register(
        DatasetSpec(
            "unpaired",
            "two image folders for translation: unpaired:A_DIR,B_DIR (or a folder with trainA/, trainB/)",
            "ganzoo.data.unpaired:load_unpaired",
            kind="unpaired",
            needs_arg=True,
            arg="A_DIR,B_DIR",
        )
    )
    register(
        DatasetSpec(
            "mnist-5k-inverted",
            "MNIST <-> inverted MNIST from disjoint halves of mnist-5k (unpaired)",
            "ganzoo.data.unpaired:load_mnist_inverted",
            kind="unpaired",
            suggests=MNIST_SHAPE,
        )
    )
    for task, summary in (
        ("thick", "thin <-> thick strokes (3x3 dilation)"),
        ("rot90", "upright <-> rotated 90 degrees"),
        ("shift", "centred <-> moved 4 pixels left"),
    ):
        register(
            DatasetSpec(
                f"mnist-5k-{task}",
                f"mnist-5k digits {summary}, disjoint halves (unpaired)",
                f"ganzoo.data.mnist_tasks:load_{task}",
                kind="unpaired",
                suggests=MNIST_SHAPE,
            )
        )
    register(
        DatasetSpec(
            "paired",
            "two image folders whose files pair up by name, for paired translation: paired:A_DIR,B_DIR",
            "ganzoo.data.paired:load_paired",
            kind="paired",
            needs_arg=True,
            arg="A_DIR,B_DIR",
        )
    )
    register(
        DatasetSpec(
            "aligned",
            "side-by-side A|B images, as the pix2pix data sets ship (A the left half): aligned:DIR",
            "ganzoo.data.paired:load_aligned",
            kind="paired",
            needs_arg=True,
            arg="DIR",
        )
    )
    register(
        DatasetSpec(
            "aligned-btoa",
            "side-by-side A|B images read the other way (A the right half): aligned-btoa:DIR",
            "ganzoo.data.paired:load_aligned_btoa",
            kind="paired",
            needs_arg=True,
            arg="DIR",
        )
    )
    for task, summary in (
        ("inverted", "-> inverted (ink and background swapped)"),
        ("thick", "thin -> thick strokes (3x3 dilation)"),
        ("rot90", "upright -> rotated 90 degrees"),
    ):
        register(
            DatasetSpec(
                f"mnist-5k-{task}-paired",
                f"mnist-5k digits {summary}, each with its own true target (paired)",
                f"ganzoo.data.mnist_tasks:load_{task}_paired",
                kind="paired",
                suggests=MNIST_SHAPE,
            )
        )
    register(
        DatasetSpec(
            "folder",
            "a folder of images, any size (also: just pass the path)",
            "ganzoo.data.folder:load_folder",
            needs_arg=True,
            arg="PATH",
        )
    )
    register(
        DatasetSpec(
            "hf",
            "a Hugging Face Hub data set: hf:ORG/NAME[@REVISION][:SPLIT] (the hub-data extra)",
            "ganzoo.data.hub_data:load_hub_data",
            needs_arg=True,
            arg="ORG/NAME[@REVISION][:SPLIT]",
            options=("repo", "revision", "split", "image_column", "label_column"),
        )
    )


@hookimpl
def ganzoo_register_metrics(register):
    register(
        MetricSpec(
            "fid",
            "Fréchet Inception Distance (Heusel et al. 2017) in --features space, through "
            "torch-fidelity; lower is better",
            "ganzoo.metrics.builtin:fid",
        )
    )
    register(
        MetricSpec(
            "kid",
            "Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2, cubic kernel, mean/std over subsets",
            "ganzoo.metrics.builtin:kid",
        )
    )
    register(
        MetricSpec(
            "is",
            "Inception Score (Salimans et al. 2016) of the samples alone, 10 splits; needs --features inception",
            "ganzoo.metrics.builtin:inception_score",
        )
    )
    register(
        MetricSpec(
            "precision_recall",
            "improved precision and recall with k-NN manifolds, k=3 (Kynkäänniemi et al. 2019)",
            "ganzoo.metrics.builtin:precision_recall",
        )
    )
    register(
        MetricSpec(
            "intra_fid",
            "FID within each class of a conditional model against a labelled reference: mean, worst class",
            "ganzoo.metrics.builtin:intra_fid",
            conditional=True,
        )
    )
    register(
        MetricSpec(
            "class_diversity",
            "variety within each digit of a conditional digit model: judge-feature "
            "spread as a share of real digits' (bar 0.9), intra-class Fréchet distance beside real-vs-real",
            "ganzoo.metrics.diversity:class_diversity",
            conditional=True,
            uses_reference=False,
        )
    )
    register(
        MetricSpec(
            "density_coverage",
            "density and coverage from k-NN balls around real features, k=5 (Naeem et al. 2020)",
            "ganzoo.metrics.builtin:density_coverage",
        )
    )
    register(
        MetricSpec(
            "mnist_digits",
            "bundled MNIST classifier: Fréchet distance in its features, recognisable fraction, class coverage",
            "ganzoo.metrics.builtin:mnist_digits",
        )
    )
    register(
        MetricSpec(
            "modes",
            "mode coverage and high-quality fraction on 2D mixtures (VEEGAN/PacGAN protocol)",
            "ganzoo.metrics.builtin:modes",
            data_kind="points",
        )
    )
    register(
        MetricSpec(
            "translation",
            "content kept by a translation model on an mnist-5k task (held-out digits): "
            "label kept, the true target's label kept, MAE to the true target, cycle error",
            "ganzoo.metrics.translation:translation_metric",
            data_kind="unpaired,paired",
            uses_reference=False,
        )
    )
    register(
        MetricSpec(
            "stacked_mnist_modes",
            "Stacked-MNIST modes covered of 1,000 and KL to uniform, each channel read by the bundled MNIST judge",
            "ganzoo.metrics.stacked:stacked_mnist_modes",
            uses_reference=False,
        )
    )
