"""Configuration from environment variables, validated once at start-up.

Every process (API, worker, ``scimctl``) builds one ``Settings`` with ``Settings.from_env()`` and passes it
down; nothing reads the environment later. A bad value stops the process with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

__all__ = ["ENVIRONMENT", "Settings", "SettingsError"]

Positive = Annotated[int, msgspec.Meta(ge=1)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the environment variable."""


class Settings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """All configuration of the service. Field docs name the environment variable that sets each one."""

    database_url: str | None = None
    """DATABASE_URL: PostgreSQL DSN. Unset: ``scimctl dev`` and the tests start an embedded server."""
    redis_url: str | None = None
    """REDIS_URL: Redis URL. Unset: ``scimctl dev`` and the tests start an embedded server."""
    data_dir: str = ".data"
    """SCIM_DATA_DIR: where embedded servers keep their data and ``scimctl dev`` writes ``dev.json``."""
    host: str = "127.0.0.1"
    """HOST: address the API listens on."""
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    """PORT: port the API listens on."""
    public_url: str | None = None
    """SCIM_PUBLIC_URL: external base URL for ``Location`` and ``meta.location``; default from the request."""
    admin_token: str | None = None
    """SCIM_ADMIN_TOKEN: bearer token of the internal ``/api/v1``; unset disables that API."""
    redis_prefix: str = ""
    """SCIM_REDIS_PREFIX: prefix of the stream and the job queue. ARQ's per-job keys (``arq:job:<event id>`` and
    the like) are not prefixed; event ids are unique, so deployments sharing a Redis do not collide."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """SCIM_LOG_LEVEL."""
    log_format: Literal["json", "console"] = "json"
    """SCIM_LOG_FORMAT: ``json`` (one object per line) or ``console``."""
    api_workers: Positive = 1
    """SCIM_API_WORKERS: API server processes."""
    db_pool_min: Annotated[int, msgspec.Meta(ge=0)] = 1
    """SCIM_DB_POOL_MIN: connections each process keeps open."""
    db_pool_max: Positive = 10
    """SCIM_DB_POOL_MAX: connections each process may open."""
    max_body_bytes: Positive = 1024 * 1024
    """SCIM_MAX_BODY_BYTES: largest request body accepted (larger is 413)."""
    body_timeout_seconds: PositiveFloat = 30.0
    """SCIM_BODY_TIMEOUT_SECONDS: how long a client may take to send a request's body, from the request's start
    (later is 408), so a stalled upload does not hold its connection open."""
    filter_max_length: Positive = 4096
    """SCIM_FILTER_MAX_LENGTH: longest filter accepted, in characters."""
    filter_max_depth: Positive = 16
    """SCIM_FILTER_MAX_DEPTH: deepest nesting of a filter (parentheses, not, and/or chains)."""
    list_default_count: Positive = 100
    """SCIM_LIST_DEFAULT_COUNT: page size when ``count`` is not given."""
    list_max_count: Positive = 1000
    """SCIM_LIST_MAX_COUNT: largest page; a larger ``count`` is lowered to it."""
    token_cache_seconds: Annotated[float, msgspec.Meta(ge=0, le=60)] = 2.0
    """SCIM_TOKEN_CACHE_SECONDS: how long a process reuses a SCIM token lookup (0: every request asks the database).
    A token revoked, or an organization switched off, through another process takes effect within this time."""
    session_ttl_seconds: Positive = 12 * 3600
    """SCIM_SESSION_TTL_SECONDS: lifetime of a dashboard session."""
    relay_enabled: bool = True
    """SCIM_RELAY_ENABLED: run the outbox relay inside each API process."""
    relay_batch_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 200
    """SCIM_RELAY_BATCH_SIZE: most events the relay publishes per transaction."""
    relay_poll_seconds: PositiveFloat = 1.0
    """SCIM_RELAY_POLL_SECONDS: polling interval when no notification arrives."""
    stream_max_length: Annotated[int, msgspec.Meta(ge=0)] = 1_000_000
    """SCIM_STREAM_MAX_LENGTH: approximate cap on stream entries (0: no length cap)."""
    stream_max_age_seconds: Annotated[int, msgspec.Meta(ge=0)] = 7 * 24 * 3600
    """SCIM_STREAM_MAX_AGE_SECONDS: entries older than this are trimmed (0: no age cap)."""
    worker_concurrency: Positive = 10
    """SCIM_WORKER_CONCURRENCY: jobs one worker process runs at once. ARQ starts jobs only when it polls and stops
    at this many, so 1 means about one job per SCIM_WORKER_POLL_SECONDS."""
    worker_poll_seconds: PositiveFloat = 0.05
    """SCIM_WORKER_POLL_SECONDS: how often a worker looks for new jobs (ARQ's own default is 0.5); it is most of
    the deactivation-to-effect latency (see bench/README.md), and 20 polls a second cost Redis next to nothing."""
    worker_max_tries: Positive = 8
    """SCIM_WORKER_MAX_TRIES: attempts of one job before it is dead-lettered."""
    worker_retry_base_seconds: PositiveFloat = 0.5
    """SCIM_WORKER_RETRY_BASE_SECONDS: first retry delay; doubles on each attempt."""
    job_timeout_seconds: Positive = 15
    """SCIM_JOB_TIMEOUT_SECONDS: longest a job may run before it is retried; a killed worker's job restarts after
    this + 12 s."""
    worker_metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0
    """SCIM_WORKER_METRICS_PORT: port of the worker's Prometheus endpoint (0: none)."""
    reconcile_seconds: Positive = 30
    """SCIM_RECONCILE_SECONDS: how often the reconciler looks for events without recorded effects."""
    reconcile_grace_seconds: Positive = 30
    """SCIM_RECONCILE_GRACE_SECONDS: how old an unapplied, published event must be before it is re-driven."""

    @property
    def stream_key(self) -> str:
        """The Redis stream downstream services read."""
        return f"{self.redis_prefix}scim:events"

    @property
    def queue_name(self) -> str:
        """The ARQ queue the relay fills and the worker drains."""
        return f"{self.redis_prefix}scim:jobs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings from ``environ`` (default: the process environment).

        Empty variables count as unset. Raises ``SettingsError`` naming the variable at fault.
        """
        source = os.environ if environ is None else environ
        raw = {field: source[var] for field, var in ENVIRONMENT.items() if source.get(var, "") != ""}
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise SettingsError(_explain(exc)) from None


def _explain(exc: msgspec.ValidationError) -> str:
    message = str(exc)
    for field, var in ENVIRONMENT.items():
        marker = f"`$.{field}`"
        if marker in message:
            return message.replace(marker, var)
    return message


ENVIRONMENT: dict[str, str] = {
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "data_dir": "SCIM_DATA_DIR",
    "host": "HOST",
    "port": "PORT",
    "public_url": "SCIM_PUBLIC_URL",
    "admin_token": "SCIM_ADMIN_TOKEN",
    "redis_prefix": "SCIM_REDIS_PREFIX",
    "log_level": "SCIM_LOG_LEVEL",
    "log_format": "SCIM_LOG_FORMAT",
    "api_workers": "SCIM_API_WORKERS",
    "db_pool_min": "SCIM_DB_POOL_MIN",
    "db_pool_max": "SCIM_DB_POOL_MAX",
    "max_body_bytes": "SCIM_MAX_BODY_BYTES",
    "body_timeout_seconds": "SCIM_BODY_TIMEOUT_SECONDS",
    "filter_max_length": "SCIM_FILTER_MAX_LENGTH",
    "filter_max_depth": "SCIM_FILTER_MAX_DEPTH",
    "list_default_count": "SCIM_LIST_DEFAULT_COUNT",
    "list_max_count": "SCIM_LIST_MAX_COUNT",
    "token_cache_seconds": "SCIM_TOKEN_CACHE_SECONDS",
    "session_ttl_seconds": "SCIM_SESSION_TTL_SECONDS",
    "relay_enabled": "SCIM_RELAY_ENABLED",
    "relay_batch_size": "SCIM_RELAY_BATCH_SIZE",
    "relay_poll_seconds": "SCIM_RELAY_POLL_SECONDS",
    "stream_max_length": "SCIM_STREAM_MAX_LENGTH",
    "stream_max_age_seconds": "SCIM_STREAM_MAX_AGE_SECONDS",
    "worker_concurrency": "SCIM_WORKER_CONCURRENCY",
    "worker_poll_seconds": "SCIM_WORKER_POLL_SECONDS",
    "worker_max_tries": "SCIM_WORKER_MAX_TRIES",
    "worker_retry_base_seconds": "SCIM_WORKER_RETRY_BASE_SECONDS",
    "job_timeout_seconds": "SCIM_JOB_TIMEOUT_SECONDS",
    "worker_metrics_port": "SCIM_WORKER_METRICS_PORT",
    "reconcile_seconds": "SCIM_RECONCILE_SECONDS",
    "reconcile_grace_seconds": "SCIM_RECONCILE_GRACE_SECONDS",
}
"""Settings field → environment variable."""
