"""Keys and encryption, blind indexes, staff accounts, two-factor and staff sessions, log privacy."""
