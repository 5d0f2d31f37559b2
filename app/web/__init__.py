"""The web layer's shared glue: security headers and bot checks, languages, the outbox's Flask side, health."""
