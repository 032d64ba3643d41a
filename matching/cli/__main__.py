"""``python -m matching.cli``: the command."""

from matching.cli import app

if __name__ == "__main__":  # imported (e.g. by the doctest collector), it runs nothing
    app()
