"""Running the app: SQLite settings, backups, the clinic's configuration, text markers."""
