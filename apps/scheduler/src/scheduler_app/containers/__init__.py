"""The dependency-injector containers: shared parts, composed once per process kind.

`basics` holds what every process needs; `processes` the containers of `standalone`, `api` and
`dispatcher`; `worker` that of `scheduler worker`, which imports neither the API nor a database.
Import the module you need: this package itself imports nothing.
"""
