"""Allows ``python -m inboxbot``."""

from inboxbot.entrypoints.cli import main

main()
