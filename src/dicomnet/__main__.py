"""``python -m dicomnet``: the ``dicomnet`` command."""

from dicomnet.cli.app import main

main()
