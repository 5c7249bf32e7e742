"""`python -m mmgenre` runs the command line."""

from mmgenre.cli.main import cli

cli(prog_name="mmgenre")
