"""The ``flask`` commands: each parses its options, calls the core, and reports."""
