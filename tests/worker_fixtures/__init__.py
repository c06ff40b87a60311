"""Code the worker tests hand to executors that run it in other processes."""
