"""The `testbed` command (testbed.cli.main): above testbed's own modules, networks, circuits and reports; nothing
else in testbed imports it."""
