# inboxbot: a slim image that runs as a non-root user. Configuration is mounted,
# secrets come from the environment. Build: docker build -t inboxbot .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY inboxbot ./inboxbot
COPY rules ./rules
COPY migrations ./migrations
# A wheel install: rules/ and migrations/ travel inside the package (see pyproject.toml).
RUN pip install -c constraints.txt . \
    && useradd --system --create-home --home-dir /var/lib/inboxbot inboxbot

USER inboxbot
WORKDIR /var/lib/inboxbot
# Mount the configuration here (or set INBOXBOT_CONFIG) and keep data on a volume.
ENV INBOXBOT_CONFIG=/etc/inboxbot/inboxbot.toml
VOLUME ["/var/lib/inboxbot"]

HEALTHCHECK --interval=5m --timeout=30s --start-period=1m CMD ["inboxbot", "health"]
# The long-running service: watches the mailbox and ticks every minute; SIGTERM stops it cleanly.
CMD ["inboxbot", "run"]
