"""The `testbed` command (cli.main): above testbed, networks, circuits and reports."""
