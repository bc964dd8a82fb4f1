"""The `smoke` command line: parser, in-process runner, local sandbox wiring, history, block admin."""
