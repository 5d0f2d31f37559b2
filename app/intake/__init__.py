"""Taking a patient from a draft of answers to one stored consultation request."""
