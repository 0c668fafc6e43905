"""`python -m simscale` runs the command line."""

from simscale.cli import main

if __name__ == "__main__":  # process pools re-import the main module in their workers
    main()
