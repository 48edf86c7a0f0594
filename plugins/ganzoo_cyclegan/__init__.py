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
