"""The HTTP API: SCIM 2.0 under ``/scim/v2``, the internal admin API under ``/api/v1``, health and metrics."""
