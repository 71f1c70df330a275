"""Data files of the app (bundled catalogue snapshot, icons, desktop entry, styles)."""
