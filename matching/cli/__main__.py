"""``python -m matching.cli``: the command."""

from matching.cli import app

app()
