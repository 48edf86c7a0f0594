"""`python -m ganzoo` runs the CLI."""

from .cli import main

main()
