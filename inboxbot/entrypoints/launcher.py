"""The ``inboxbot`` script's own module: it imports nothing until the command runs.

multiprocessing runs the main script again in every worker process it starts, to
find anything defined there. The classifying workers need none of the command
line (SQLAlchemy, Typer, every command's modules: most of a second to import), so
the script names this module and the command line is imported only when the
script is run as a command.
"""

from __future__ import annotations


def main() -> None:
    """Run the command line (:func:`inboxbot.entrypoints.cli.main`)."""
    from inboxbot.entrypoints.cli import main as run_command_line

    run_command_line()
