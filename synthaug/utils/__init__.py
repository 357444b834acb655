"""Small helpers with no knowledge of models: atomic file writes, seeding."""
