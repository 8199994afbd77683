"""``python -m isc_client``: the ``isc`` command, for environments without the script on PATH."""

from isc_client.cli import main

main()
