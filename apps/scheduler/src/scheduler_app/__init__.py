"""The scheduler app: the composition root and the `scheduler` CLI."""
