"""Allows ``python -m inboxbot``."""

from inboxbot.entrypoints.launcher import main

main()
