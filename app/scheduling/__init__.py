"""Consultation times: the weekly template and its exceptions, free times, booking. No Flask."""
