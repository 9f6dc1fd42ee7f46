"""The web console (#17): an input like the CLI, calling the same operations; no SQL here."""
