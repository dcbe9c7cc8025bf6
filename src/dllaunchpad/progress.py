"""Whether to draw progress bars: for people at a terminal, not under CI or into log files.

Its own module, importing nothing, because every command asks (fetch and prepare too), and
train.py, where it used to live, brings Lightning with it: 2.8 s per Snakemake job.
"""

from __future__ import annotations

import os
import sys


def progress_enabled() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")
