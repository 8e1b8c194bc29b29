"""DIMSE (PS3.7) messages, command-set codec and fragmentation, without I/O."""
