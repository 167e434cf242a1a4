"""inboxbot: works a council's shared Ombudsman mailbox."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("inboxbot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
