"""Prometheus metrics of the event flow and the API.

Module-level collectors on the default registry. A process serves them at ``/metrics`` (API) or on its own port
(worker). With several API processes per host, set ``PROMETHEUS_MULTIPROC_DIR`` as prometheus-client documents.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "DEACTIVATION_LATENCY",
    "EVENTS_PUBLISHED",
    "JOBS",
    "OUTBOX_BACKLOG",
    "OUTBOX_OLDEST_AGE",
    "RECONCILER_REDRIVES",
    "RELAY_FAILURES",
    "REQUESTS",
    "REQUEST_SECONDS",
]

EVENTS_PUBLISHED = Counter("scim_events_published_total", "Events put on the stream and the job queue.", ["type"])
RELAY_FAILURES = Counter("scim_relay_failures_total", "Relay rounds that failed (Redis or PostgreSQL down).")
OUTBOX_BACKLOG = Gauge("scim_outbox_backlog", "Events committed but not yet published.")
OUTBOX_OLDEST_AGE = Gauge("scim_outbox_oldest_pending_seconds", "Age of the oldest unpublished event.")
JOBS = Counter("scim_jobs_total", "Worker job outcomes.", ["outcome"])
RECONCILER_REDRIVES = Counter("scim_reconciler_redrives_total", "Events re-enqueued by the reconciler.")
DEACTIVATION_LATENCY = Histogram(
    "scim_deactivation_effect_seconds",
    "From a deactivation or deletion commit to its side effects being applied.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
REQUESTS = Counter("scim_http_requests_total", "HTTP requests answered.", ["method", "route", "status"])
REQUEST_SECONDS = Histogram("scim_http_request_seconds", "HTTP request duration.", ["method", "route"])
