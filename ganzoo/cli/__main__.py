"""`python -m ganzoo.cli` runs the CLI, as `python -m ganzoo` does."""

from . import main

main()
