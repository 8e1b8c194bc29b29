"""Small handler modules the CLI tests load with --handler (by dotted name from the
``tests/cli`` directory, or by .py path)."""
