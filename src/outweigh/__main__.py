"""`python -m outweigh` is the `outweigh` command."""

from outweigh.cli import main

main()
