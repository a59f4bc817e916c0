from bench.core import cli

cli()
