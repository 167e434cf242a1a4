"""The ``inboxbot`` script's own module: it imports nothing until the command runs.

multiprocessing runs the main script again in every worker process it starts, to
find anything defined there. The classifying workers need none of the command
line (SQLAlchemy, Typer, every command's modules: most of a second to import), so
the script names this module and the command line is imported only when the
script is run as a command.
"""

from __future__ import annotations

import atexit
import gc


def main() -> None:
    """Run the command line (:func:`inboxbot.entrypoints.cli.main`)."""
    # Registered first, so run last of the exit handlers: everything the process made is
    # frozen, and the interpreter's shutdown skips its full collections over a heap about
    # to be handed back whole (0.2-0.4 s after every command). The other exit handlers
    # (logging's flush, multiprocessing's joins) and the flushing of stdout and stderr
    # still run; what is skipped are finalizers of objects still alive or in cycles at
    # exit, which Python does not promise to run anyway.
    atexit.register(gc.freeze)
    from inboxbot.entrypoints.cli import main as run_command_line

    run_command_line()
