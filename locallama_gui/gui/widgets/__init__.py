"""Reusable widgets: states (empty, loading, error, banner) and charts."""
