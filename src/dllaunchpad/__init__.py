"""launchpad: the worked examples of "A Deep Learning Launchpad" as one reproducible pipeline.

The package holds all real code; Snakemake rules and DVC stages only call the `dllaunchpad` CLI.
Submodules import their heavy dependencies (torch, lightning, tensorflow-datasets) lazily so
that parsing the workflow stays fast.
"""

__version__ = "0.1.0"
