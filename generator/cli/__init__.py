"""The `gosvc` command: one module per command parses its arguments, calls the library and prints the outcome.
The top of the import graph: nothing imports it."""
