"""inboxbot: works a council's shared Ombudsman mailbox."""


def __getattr__(name: str) -> str:
    # The version is read from the installed package's metadata only when asked for: reading
    # it costs tens of milliseconds, and every command and worker process imports this package.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("inboxbot")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0.0.0+source"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
