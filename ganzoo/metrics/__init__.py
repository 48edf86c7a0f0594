"""Metrics: mode coverage for 2D mixtures and MNIST classifier scores."""

# The protocol behind every "recognisable" number on a bundled model card (kept torch-free: plugins
# quote it at registration, which must not import torch).
DIGITS_PROTOCOL = (
    "1,000 samples, seed 0, bundled MNIST judge with a not-a-digit class, trained at 12-64 px (held-out "
    "accuracy 94.8%; real held-out digits score 87.0% at 32 px, 84.2-90.2% at 16-64 px), top class a "
    "digit with probability >= 0.9"
)
# A conditional digit model's "requested" figures: the same samples, each asked for a digit.
REQUESTED_PROTOCOL = (
    f"{DIGITS_PROTOCOL}; sample i asks for digit i mod 10 (100 per digit), and counts when its top "
    "class is that digit with probability >= 0.9 (real held-out digits with their true labels: 87.0%)"
)
# A conditional digit model's "spread_ratio": the diversity term of the conditional bar (ganzoo.metrics.diversity).
DIVERSITY_PROTOCOL = (
    f"{REQUESTED_PROTOCOL}; per digit, the RMS distance of the judge's 128-d features to the digit's mean over "
    "mnist-5k's training digits' (ganzoo.metrics.diversity), averaged over the digits; real held-out digits 1.012"
)
SPREAD_BAR = 0.9  # the conditional bar's diversity term: generated spread / real spread, averaged over the classes


def conditional_card_metrics(
    *,
    requested: float,
    min_requested: float,
    recognisable: float,
    min_class_fraction: float,
    spread_ratio: float,
    spread_worst: float,
    intra_fd: float,
    share: float,
    worst_share: float,
) -> dict[str, dict]:
    """A bundled conditional digit model's card metrics, each with its protocol; the verdicts on the conditional
    bar (requested >= 0.95 and worst digit >= 0.85 of real, spread >= SPREAD_BAR) are read from the values."""
    spread_verdict = "met" if spread_ratio >= SPREAD_BAR else "NOT met"
    bar_verdict = "met" if share >= 0.95 and worst_share >= 0.85 else "NOT met"
    return {
        "requested": {"value": requested, "protocol": REQUESTED_PROTOCOL},
        "min_requested": {"value": min_requested, "protocol": REQUESTED_PROTOCOL + "; the worst digit"},
        "recognisable": {"value": recognisable, "protocol": DIGITS_PROTOCOL},
        "min_class_fraction": {"value": min_class_fraction, "protocol": DIGITS_PROTOCOL},
        "spread_ratio": {
            "value": spread_ratio,
            "protocol": f"{DIVERSITY_PROTOCOL}; worst digit {spread_worst:.3f}. "
            f"The diversity bar, {SPREAD_BAR}, is {spread_verdict}",
        },
        "intra_fd": {
            "value": intra_fd,
            "protocol": "Frechet distance of judge features per digit, averaged over the digits "
            "(ganzoo.metrics.diversity); real-vs-real 38.3",
        },
        "requested_share_of_real": {
            "value": share,
            "protocol": f"requested over the real held-out digits' 87.0%; worst digit {worst_share:.3f}. The "
            f"conditional bar, 0.95 overall and 0.85 for the worst digit, is {bar_verdict}",
        },
    }


# The judge used until 2026-11-30; figures measured with it stay on the cards as history.
PREVIOUS_JUDGE = (
    "the previous judge (10-class MNIST classifier without a not-a-digit class, held-out accuracy "
    "97.4%; real held-out digits 95.8%), used until 2026-11-30"
)
# CIFAR-10 figures that PyTorch-StudioGAN reports for the nets ganzoo can import; each card adds which run it was.
STUDIOGAN_PROTOCOL = (
    "reported by PyTorch-StudioGAN (README benchmark table, CIFAR-10, TensorFlow InceptionV3), not "
    "re-measured by ganzoo; 50,000 generated images against the 50,000 training images, batch-norm "
    "statistics re-estimated before sampling (-std_stat)"
)
TRANSLATION_PROTOCOL = (
    "500 held-out mnist-5k digits (never trained on), true target T(x) of the task; MAE in [0, 1] "
    "pixel units; labels by the bundled digit judge (argmax of 11 classes) on upright(translation)"
)
