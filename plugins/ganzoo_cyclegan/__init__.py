"""CycleGAN (Zhu et al. 2017) as a ganzoo plugin: hookimpls and lazy references only."""

import ganzoo
from ganzoo.metrics import PREVIOUS_JUDGE


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(
        ganzoo.Variant(
            name="cyclegan",
            summary="Unpaired image-to-image translation: ResNet generators, PatchGAN critics, cycle loss",
            paper="Zhu, Park, Isola, Efros 2017. Unpaired Image-to-Image Translation using "
            "Cycle-Consistent Adversarial Networks. ICCV. arXiv:1703.10593",
            config="ganzoo_cyclegan.config:CycleGANConfig",
            build="ganzoo_cyclegan.models:build",
            step="ganzoo_cyclegan.step:CycleGANStep",
            data_kind="unpaired",
            task="translate",
        )
    )


@ganzoo.hookimpl
def ganzoo_register_models(register):
    protocol = "500 held-out mnist-5k digits (never trained on); pixel units in [0, 1]"
    register(
        ganzoo.ModelCard(
            name="cyclegan-mnist-inverted",
            variant="cyclegan",
            summary="MNIST <-> inverted MNIST, learned from unpaired halves of mnist-5k (32x32, 6 blocks, ngf 8)",
            weights="bundled:ganzoo_cyclegan/pretrained/cyclegan-mnist-inverted",
            dataset="mnist-5k-inverted",
            recipe="ganzoo train cyclegan --data mnist-5k-inverted --image-size 32 --channels 1 -c ngf=8 -c ndf=8 "
            "-c lambda_identity=0.5 "
            "--steps 1500 --batch-size 8 --out runs/cyclegan-mnist-inverted",
            config={"image_size": 32, "channels": 1, "ngf": 8, "ndf": 8, "lambda_identity": 0.5},
            metrics={
                "a2b_mae": {"value": 0.0229, "protocol": protocol},
                "b2a_label_accuracy": {"value": 0.952, "protocol": protocol},
                "cycle_mae": {"value": 0.0236, "protocol": protocol},
                "b2a_label_accuracy_previous_judge": {
                    "value": 0.978,
                    "protocol": f"{protocol}; labels by {PREVIOUS_JUDGE}",
                },
            },
        )
    )
    _register_released(register)


@ganzoo.hookimpl
def ganzoo_register_importers(register):
    register(
        ganzoo.ImporterSpec(
            name="junyanz-cyclegan",
            summary="the CycleGAN authors' released generators (a bare state dict of one ResnetGenerator, "
            "'NAME.pth'): one direction each",
            variant="cyclegan",
            convert="ganzoo_cyclegan.importers:convert_junyanz_cyclegan",
            upstream="junyanz/pytorch-CycleGAN-and-pix2pix",
        )
    )


AUTHORS = "https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix"
RELEASES = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models"
# upstream file -> (what it translates, A -> B; the upstream's data set, as its docs/datasets.md describes it)
MONET = "art from WikiArt, landscape photos from Flickr"
RELEASED = {
    "horse2zebra": ("horse -> zebra photos", "horse2zebra: ImageNet images for 'wild horse' and 'zebra'"),
    "zebra2horse": ("zebra -> horse photos", "horse2zebra: ImageNet images for 'wild horse' and 'zebra'"),
    "monet2photo": ("Monet painting -> photo", f"monet2photo: {MONET}"),
    "style_monet": ("photo -> Monet painting", f"monet2photo: {MONET}"),
    "style_cezanne": ("photo -> Cezanne painting", f"cezanne2photo: {MONET}"),
    "style_ukiyoe": ("photo -> Ukiyo-e print", f"ukiyoe2photo: {MONET}"),
    "style_vangogh": ("photo -> Van Gogh painting", f"vangogh2photo: {MONET}"),
    "summer2winter_yosemite": ("Yosemite summer -> winter photos", "summer2winter_yosemite: Flickr photos"),
    "winter2summer_yosemite": ("Yosemite winter -> summer photos", "summer2winter_yosemite: Flickr photos"),
    "apple2orange": ("apple -> orange photos", "apple2orange: ImageNet images for 'apple' and 'navel orange'"),
    "orange2apple": ("orange -> apple photos", "apple2orange: ImageNet images for 'apple' and 'navel orange'"),
    "map2sat": ("Google Maps map -> satellite photo", "maps: 1,096 images scraped from Google Maps"),
    "sat2map": ("satellite photo -> Google Maps map", "maps: 1,096 images scraped from Google Maps"),
    "facades_photo2label": ("facade photo -> label map", "facades: the CMP Facades data set"),
    "facades_label2photo": ("facade label map -> photo", "facades: the CMP Facades data set"),
    "cityscapes_photo2label": ("street photo -> Cityscapes label map", "cityscapes: the Cityscapes training set"),
    "cityscapes_label2photo": ("Cityscapes label map -> street photo", "cityscapes: the Cityscapes training set"),
    "iphone2dslr_flower": ("iPhone flower photo -> DSLR shallow depth of field", "iphone2dslr_flower: Flickr photos"),
}
INPUT = (
    "RGB, resized to 256x256 (bicubic) and scaled to [-1, 1], as the authors' test.py does (load_size = crop_size "
    "= 256); output 256x256 in [-1, 1]"
)
HASH_POLICY = (
    "the upstream publishes no sha256: the first download's is recorded in $GANZOO_CACHE/imported/pins.json and "
    "every later download must match it"
)


PAIRS = [
    ("horse2zebra", "zebra2horse"),
    ("monet2photo", "style_monet"),
    ("summer2winter_yosemite", "winter2summer_yosemite"),
    ("apple2orange", "orange2apple"),
    ("map2sat", "sat2map"),
    ("facades_photo2label", "facades_label2photo"),
    ("cityscapes_photo2label", "cityscapes_label2photo"),
]  # released both ways
REVERSE = {a: b for pair in PAIRS for a, b in (pair, pair[::-1])}


def _catalog_name(upstream: str) -> str:
    return "cyclegan-" + upstream.replace("_", "-")


def _register_released(register) -> None:
    """The authors' released generators, one catalog entry each (converted on first load)."""
    for upstream, (what, data) in RELEASED.items():
        name = _catalog_name(upstream)
        back = f"; the other way is {_catalog_name(REVERSE[upstream])}" if upstream in REVERSE else ""
        register(
            ganzoo.ModelCard(
                name=name,
                variant="cyclegan",
                summary=f"{what}, 256x256: the CycleGAN authors' released generator, one way (A -> B), "
                "imported on first load",
                weights="import",
                dataset="unpaired:ROOT",
                recipe=f"ganzoo train cyclegan --data unpaired:datasets/{data.split(':')[0]} --image-size 256 "
                f"--out runs/{name}",
                config={"image_size": 256, "channels": 3, "ngf": 64, "n_blocks": 9, "one_way": True},
                license="BSD-2-Clause",
                source={
                    "importer": "junyanz-cyclegan",
                    "url": f"{RELEASES}/{upstream}.pth",
                    "direction": f"a2b only: {what} (the file holds one generator){back}",
                    "input": INPUT,
                    "data": f"{data} (the upstream names no licence for its data sets; it asks users to cite "
                    "their papers)",
                    "hash_policy": HASH_POLICY,
                    "paper": "Zhu, Park, Isola, Efros 2017. arXiv:1703.10593",
                    "homepage": AUTHORS,
                },
            )
        )
