"""The worker runtime and the shell executor."""
