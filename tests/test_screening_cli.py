"""The ``flask --app wsgi screening assess`` command, run for real as a subprocess.

Answers go in as JSON on stdin; the assessment comes out as JSON on stdout. Invalid input exits with
status 2, nothing on stdout and ``{"errors": {field: {...}}}`` on stderr. DATABASE_URL points at a file
that does not exist, and every test checks it still does not: the command needs no database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.screening import assess
from tests.answers import BASE_ANSWERS, answers_with

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "flask", "--app", "wsgi", "screening", "assess"]
OUTPUT_KEYS = {"category", "complete", "score", "cook_score", "rule_version", "reasons", "cautions", "holds", "unmet"}


@dataclass(frozen=True)
class Result:
    """What the command did."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A database path that must never be created."""
    path = tmp_path / "must-not-exist.sqlite3"
    assert not path.exists()
    return path


@pytest.fixture
def env(database: Path) -> dict[str, str]:
    """The current environment, with the testing configuration and the database that must not exist."""
    return {**os.environ, "FLASK_CONFIG": "testing", "DATABASE_URL": f"sqlite:///{database}"}


def run_assess(stdin: str, env: dict[str, str], database: Path) -> Result:
    """Run the command with ``stdin``; check it left no database behind."""
    completed = subprocess.run(
        COMMAND,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=PROJECT_ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert not database.exists(), "the command created a database"
    return Result(completed.returncode, completed.stdout, completed.stderr)


def error_body(result: Result) -> dict[str, Any]:
    """The failure contract: exit 2, empty stdout, a JSON ``{"errors": {...}}`` object on stderr."""
    assert result.returncode == 2, result
    assert result.stdout == ""
    body = json.loads(result.stderr)
    assert isinstance(body, dict)
    assert set(body) == {"errors"}
    assert isinstance(body["errors"], dict)
    for entry in body["errors"].values():
        assert set(entry) == {"problem", "detail"}
    return body["errors"]


@pytest.mark.parametrize(
    ("answers", "category", "score", "cook"),
    [
        pytest.param(BASE_ANSWERS, "likely", 100, 5, id="base-case"),
        pytest.param(answers_with(red_flags=["saddle_numbness"]), "emergency", 100, 5, id="emergency"),
        pytest.param(answers_with(had_mri="no", mri_findings=None), "possible", 75, 5, id="no-mri"),
        pytest.param(answers_with(main_pain="back", leg_symptoms="none"), "unlikely", 75, 3, id="unlikely"),
    ],
)
def test_valid_answers_print_the_assessment(
    answers: dict[str, Any], category: str, score: int, cook: int, env: dict[str, str], database: Path
) -> None:
    result = run_assess(json.dumps(answers), env, database)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert set(output) >= OUTPUT_KEYS
    assert output["category"] == category
    assert output["score"] == score
    assert output["cook_score"] == cook
    assert output["rule_version"] == "2026.2"
    assert output["complete"] is True
    assert output == assess(answers).to_dict()


def test_output_carries_cautions_and_texts(env: dict[str, str], database: Path) -> None:
    answers = answers_with(blood_thinners=["anticoagulant"], thinner_hold_risk="yes", had_mri="yes_older", age=49,
                           pain_when_seated="yes")
    result = run_assess(json.dumps(answers), env, database)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["category"] == "possible"
    assert output["cautions"] == ["K1", "K8", "K9", "K11"]
    assert output["holds"] == ["K9"]
    assert output["unmet"] == ["C7"]
    assert set(output["texts"]) == set(output["reasons"]) | set(output["cautions"])
    assert set(output["unmet_texts"]) == {"C7"}


def test_an_emergency_from_the_safety_answers_alone_is_assessed(env: dict[str, str], database: Path) -> None:
    result = run_assess(json.dumps({"red_flags": ["saddle_numbness", "cancer_history"]}), env, database)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert (output["category"], output["complete"], output["score"], output["cook_score"]) == (
        "emergency", False, None, None)
    assert (output["reasons"], output["unmet"], output["cautions"], output["holds"]) == (["E1"], [], ["P1"], ["P1"])


def test_safety_answers_without_an_emergency_are_still_incomplete(env: dict[str, str], database: Path) -> None:
    errors = error_body(run_assess(json.dumps({"red_flags": ["cancer_history"]}), env, database))
    assert errors["age"] == {"problem": "missing", "detail": "an answer is required"}
    assert set(errors) >= {"leg_symptoms", "age", "blood_thinners"} and "red_flags" not in errors


def test_ignored_conditional_answers_are_accepted(env: dict[str, str], database: Path) -> None:
    answers = answers_with(
        tried_pt="no",
        tried_injections="no",
        tried_medications="no",
        conservative_duration="forever",
        had_mri="not_sure",
        mri_findings="garbage",
        prior_surgery_type="garbage",
        thinner_hold_risk="garbage",
    )
    result = run_assess(json.dumps(answers), env, database)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == assess(answers).to_dict()


def test_invalid_answers_name_every_bad_field(env: dict[str, str], database: Path) -> None:
    answers = answers_with(pain_score="7", red_flags=["none", "fever"], walking_limit=None, shoe_size=42)
    errors = error_body(run_assess(json.dumps(answers), env, database))
    assert {name: entry["problem"] for name, entry in errors.items()} == {
        "pain_score": "not_an_integer",
        "red_flags": "exclusive",
        "walking_limit": "missing",
        "shoe_size": "unknown_field",
    }


@pytest.mark.parametrize(
    ("answers", "field", "problem"),
    [
        pytest.param(answers_with(age=17), "age", "out_of_range", id="age-17"),
        pytest.param(answers_with(age=True), "age", "not_an_integer", id="age-true"),
        pytest.param(answers_with(leg_symptoms="left"), "leg_symptoms", "unknown_code", id="unknown-code"),
        pytest.param(answers_with(mri_findings=None), "mri_findings", "missing", id="findings-missing"),
        pytest.param(
            answers_with(blood_thinners=["none", "aspirin"]), "blood_thinners", "exclusive", id="thinners-exclusive"
        ),
    ],
)
def test_one_invalid_answer(
    answers: dict[str, Any], field: str, problem: str, env: dict[str, str], database: Path
) -> None:
    errors = error_body(run_assess(json.dumps(answers), env, database))
    assert {name: entry["problem"] for name, entry in errors.items()} == {field: problem}


@pytest.mark.parametrize("text", ["[]", '"answers"', "42", "null"])
def test_non_object_json_is_refused(text: str, env: dict[str, str], database: Path) -> None:
    errors = error_body(run_assess(text, env, database))
    assert {name: entry["problem"] for name, entry in errors.items()} == {"answers": "not_an_object"}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{not json", id="broken"),
        pytest.param("", id="empty"),
        pytest.param(json.dumps(BASE_ANSWERS)[:-1], id="truncated"),
    ],
)
def test_invalid_json_is_refused(text: str, env: dict[str, str], database: Path) -> None:
    errors = error_body(run_assess(text, env, database))
    assert list(errors) == ["input"]
    assert errors["input"]["problem"] == "not_json"
