"""``python -m flows``: the same as the ``archive-restore`` command."""

from flows.cli import main

main()
