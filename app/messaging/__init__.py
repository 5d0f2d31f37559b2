"""Messages to and from patients: templates, the text provider, keywords, what is sent when. No Flask.

Every message to a patient is queued in the outbox (app/models/outbox.py) in the transaction of the change
that causes it, and says only the clinic's name and number, the reference, and what happens next (or the
visit's date, time and address). Nothing about the patient's health is ever put in a message.
"""
