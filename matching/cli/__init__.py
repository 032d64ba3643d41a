"""The ``matching`` command: a thin layer over the library, one module per group of commands
(``run``: the main job; ``data``: region data and forms; ``analyses``: what-if work for regional
meetings), sharing ``_common``."""

import importlib

from matching._cli_errors import install
from matching.cli._common import app

for _group in ("run", "data", "analyses"):  # each registers its commands; --help lists them in this order
    importlib.import_module(f"matching.cli.{_group}")

install(app)  # every command: no traceback, a Japanese line on stderr, exit 2 (input) or 1 (bug)

__all__ = ["app"]
