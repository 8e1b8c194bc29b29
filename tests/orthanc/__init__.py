"""Interop tests with Orthanc as the PACS (started per module on free ports)."""
