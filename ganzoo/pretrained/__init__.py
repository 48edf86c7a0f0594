"""Published models: the folder format and its weight checks, model cards, name resolution, run folders,
and publishing to the Hub.

- folder.py: config.json + model.safetensors + README.md + samples.png, written and read back strictly
- weights.py: a weight file's tensors checked against the networks before any is copied in
- atomic.py: a saved folder swapped in whole, and what killed saves left behind removed
- upstream.py: other libraries' checkpoint files fetched, checked against their pins, read without running code
- card.py: the README.md model card and the `ganzoo train` recipe of a run
- names.py: ``ganzoo.load``: catalog names, "hf-hub:" names, published folders, run folders
- run.py: a training run folder loaded as a model (EMA generator in place)
- publish.py: push_to_hub / push_run (Hub transfer itself is ganzoo.hf)
"""
