"""Marks patient-facing text for translation in modules that must not import Flask.

``N_`` returns its argument unchanged: the English text stays the stored message id, ``pybabel extract``
finds it by the keyword ``N_`` (babel.cfg), and templates and forms translate it when they render it.
"""

from __future__ import annotations


def N_(message: str) -> str:  # the conventional name of the no-op gettext marker
    """Mark ``message`` for extraction; return it unchanged."""
    return message


class PatientMessageError(ValueError):
    """Something the patient must fix, said in their words.

    ``message`` is the English text with ``%(name)s`` placeholders (the translation's message id) and
    ``params`` fills them; ``str()`` gives the English sentence, forms translate ``message`` instead.
    """

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message, self.params = message, params
