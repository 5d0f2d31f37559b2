"""The MILD self-screen's clinical core: questions, validation and rules. Pure Python, no Flask."""

from app.screening.rules import RULE_VERSION, Assessment, Category, assess
from app.screening.validation import InvalidAnswers, validate_answers

__all__ = ["RULE_VERSION", "Assessment", "Category", "InvalidAnswers", "assess", "validate_answers"]
