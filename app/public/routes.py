"""Patient routes."""
