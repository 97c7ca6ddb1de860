"""Every SQL statement of the service, one module per table.

Functions take an open asyncpg connection (the caller owns the transaction), use explicit column lists and
``$n`` parameters, and translate driver errors into domain errors at this boundary.
"""
