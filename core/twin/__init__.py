"""The device twin: a virtual ESP32-S3 (ROM serial loader + the firmware's host build)."""
