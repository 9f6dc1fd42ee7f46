"""Content items: their types, validation, import/export and the sample network."""
