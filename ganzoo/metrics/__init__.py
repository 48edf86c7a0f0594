"""Metrics: mode coverage for 2D mixtures and MNIST classifier scores."""

# The protocol behind every "recognisable" number on a bundled model card (kept torch-free: plugins
# quote it at registration, which must not import torch).
DIGITS_PROTOCOL = "1,000 samples, seed 0, bundled MNIST classifier (held-out accuracy 97.4%), confidence >= 0.9"
