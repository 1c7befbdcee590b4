"""Business rules as plain functions over a database session: routes call these, and so
can tests and scripts, without HTTP."""
