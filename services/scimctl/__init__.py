"""The ``scimctl`` command line: run the service and operate tenants and tokens."""
