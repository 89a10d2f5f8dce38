"""Device-side formats and flash layouts: ESP-IDF partition tables, otadata, app images, slots."""
