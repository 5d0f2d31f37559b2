"""Everything that leaves the app as data: the CSV export, the codebook and FHIR."""
