"""Metrics: mode coverage for 2D mixtures and MNIST classifier scores."""
