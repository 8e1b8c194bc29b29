"""The ``dicomnet`` command line: one Typer app with a module per command."""
