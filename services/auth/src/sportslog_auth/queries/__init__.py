"""All SQL of the auth service: one module per table (a table and its 1:1 or owned rows),
one function per statement, typed rows (rows.py) out."""
