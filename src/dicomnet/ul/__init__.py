"""The DICOM Upper Layer (PS3.8) without I/O."""
