"""`python -m simscale` runs the command line."""

from simscale.cli import main

main()
