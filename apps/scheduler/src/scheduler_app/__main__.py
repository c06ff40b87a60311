"""`python -m scheduler_app` is the `scheduler` command."""

from scheduler_app.entry import main

main()
