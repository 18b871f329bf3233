"""Post sources: where posts come from."""
