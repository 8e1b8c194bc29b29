"""DIMSE-N services: our SCU and SCP, and pynetdicom as a peer."""
