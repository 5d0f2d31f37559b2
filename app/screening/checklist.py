"""The patient's "before your visit" checklist: one item per caution id, then what everyone should bring.

Defined once and shown three ways: on the result page, on its printout (both in the patient's language,
translated at render time from these English message ids) and on the staff request page (in English, as
written here). Items say what to bring or tell; they never tell a patient to stop a medicine (spec section 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.platform.i18n_marker import N_

# One item for every caution id of rule set 2026.2 (spec section 3, K1..K13 and P1..P3); a test checks
# the keys against the rules.
CAUTION_ITEMS: dict[str, str] = {
    "P1": N_("Tell the doctor about your cancer and any treatment you have had for it."),
    "P2": N_("Tell the doctor about your fall, accident or injury, and when it happened."),
    "P3": N_("Tell the doctor how much weight you have lost, and over how long."),
    "K1": N_("Bring the name and dose of your blood thinner. Do not stop it on your own. The clinic will make "
             "a plan with the doctor who prescribes it."),
    "K2": N_("Tell the doctor about any bleeding problem. For example, you bruise easily or bleed for a long "
             "time after a cut."),
    "K3": N_("Tell the doctor if you cannot lie on your stomach for about an hour."),
    "K4": N_("Tell the doctor what went wrong when you had sedation before."),
    "K5": N_("Tell the doctor about any problem with blood flow in your legs or with your hips."),
    "K6": N_("Bring the records of your back surgery: when and where you had it, and what was done."),
    "K7": N_("Tell the doctor that your scan showed a slipped bone in your spine."),
    "K8": N_("Ask the clinic about a new MRI or CT scan. You need one from the last 12 months. Bring the report "
             "or disc of any older scan."),
    "K9": N_("Tell the doctor about the leg pain you have when you sit."),
    "K10": N_("Bring a list of your other health problems, and someone who can help you on the day."),
    "K11": N_("Bring the name of the doctor who said your blood thinner must not be stopped, and why. Keep "
              "taking it. The clinic will agree on a plan with that doctor."),
    "K12": N_("Bring your scan report, and the disc or link to the images if you have them."),
    "K13": N_("Bring any X-rays of your back taken while bending forward and back, if you have them."),
}

# What every patient should bring, after the items their own answers call for.
EVERYONE_ITEMS: tuple[tuple[str, str], ...] = (
    ("medicines", N_("Bring a list of all the medicines you take, with the doses.")),
    ("scan", N_("Bring the report of your latest MRI or CT scan of your lower back, and the disc if you have it.")),
    ("treatments", N_("Bring a list of the treatments you have tried, and for how long.")),
)


@dataclass(frozen=True)
class ChecklistItem:
    """One line of the checklist: the caution id it comes from (or a name for an everyone item) and its text."""

    id: str
    text: str
    from_caution: bool


# For a patient who said they have had no MRI or CT scan: nothing asks them to bring one.
NO_SCAN_ITEMS: dict[str, str] = {
    "K8": N_("Ask the clinic about getting an MRI or CT scan of your lower back. You need one from the last "
             "12 months."),
}


def visit_checklist(cautions: Iterable[str], answers: Mapping[str, Any] | None = None) -> list[ChecklistItem]:
    """The checklist for these caution ids: their items in the order given, then the items for everyone.

    ``answers`` (the screening's) leave out what does not apply: no scan to bring for someone who has none.
    """
    no_scan = answers is not None and answers.get("had_mri") == "no"
    own = [ChecklistItem(caution, (NO_SCAN_ITEMS.get(caution) if no_scan else None) or CAUTION_ITEMS[caution], True)
           for caution in cautions]
    return own + [ChecklistItem(name, text, False) for name, text in EVERYONE_ITEMS
                  if not (no_scan and name == "scan")]
