"""Sockets, threads, TLS and deadlines: the only I/O in dicomnet."""
