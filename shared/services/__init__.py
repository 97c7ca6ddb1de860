"""Product rules. Services take the pool, open transactions, call repositories and raise domain errors."""
