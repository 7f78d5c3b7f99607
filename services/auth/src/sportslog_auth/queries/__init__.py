"""All SQL of the auth service, one module per table group, one function per statement."""
