"""The ARQ worker that applies the side effects of events."""
