"""What each rule of rule set 2026.2 says to the patient and to staff, and where it comes from.

The retired U3 of 2026.1 keeps its words, so that results made under 2026.1 can still be explained.

Patient texts are plain words in the second person; staff texts are clinical shorthand. Sources refer to
spec section 6.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.platform.i18n_marker import N_


@dataclass(frozen=True)
class RuleText:
    """The words attached to one rule id."""

    patient: str
    staff: str
    source: str


RULE_TEXTS: dict[str, RuleText] = {
    # Emergency
    "E1": RuleText(
        N_("You told us about a problem that can mean a nerve in your back is badly squeezed, or an "
        "infection. You need to see a doctor now."),
        "Red flag: possible cauda equina syndrome, progressive neurological deficit or infection. "
        "Emergency care advised.",
        "ACP/APS 2007; IFOMPT 2020",
    ),
    # Prompt review
    "P1": RuleText(
        N_("Your back pain started after a cancer diagnosis. A doctor should look at this soon."),
        "Back pain new since a cancer diagnosis: prompt clinician review.",
        "ACP/APS 2007; IFOMPT 2020",
    ),
    "P2": RuleText(
        N_("Your pain began after a fall, accident or injury. A doctor should look at this soon."),
        "Onset after trauma in the last 3 months: prompt clinician review.",
        "ACP/APS 2007; IFOMPT 2020",
    ),
    "P3": RuleText(
        N_("You have lost weight without trying. A doctor should look at this soon."),
        "Unexplained weight loss in the last 3 months: prompt clinician review.",
        "ACP/APS 2007; IFOMPT 2020",
    ),
    # Core criteria
    "C1": RuleText(
        N_("Your leg symptoms come on when you stand or walk and ease when you sit or bend forward."),
        "Neurogenic claudication pattern: leg symptoms, worse standing/walking, relieved sitting/flexion.",
        "Suri 2010; MiDAS ENCORE; MOTION",
    ),
    "C2": RuleText(
        N_("You have had these symptoms for 3 months or more."),
        "Symptoms for 3 months or more.",
        "MiDAS ENCORE; MOTION",
    ),
    "C3": RuleText(
        N_("You have tried physical therapy or spine shots for at least 3 months. They did not give lasting "
        "relief."),
        "Failed conservative care (physical therapy and/or epidural steroid injections, ESI, without lasting relief) "
        "for 3 months or more.",
        "MiDAS ENCORE",
    ),
    "C4": RuleText(
        N_("Your scan showed a thick ligament in your spine."),
        "Imaging reports ligamentum flavum hypertrophy.",
        "MiDAS ENCORE; MOTION; MIST 2.0",
    ),
    "C5": RuleText(
        N_("Your symptoms limit how far you can walk."),
        "Walking tolerance limited (under 30 minutes).",
        "MiDAS ENCORE",
    ),
    "C6": RuleText(
        N_("Your pain is moderate or worse."),
        "Average pain 5 or more out of 10 (NPRS, the 0 to 10 pain scale).",
        "MOTION",
    ),
    "C7": RuleText(
        N_("You are 50 or older."),
        "Age 50 or over.",
        "MOTION",
    ),
    # Against the pattern
    "U1": RuleText(
        N_("You do not have symptoms in your buttocks or legs. MILD treats leg symptoms caused by a narrow "
        "spinal canal."),
        "No leg symptoms.",
        "Suri 2010",
    ),
    "U2": RuleText(
        N_("Your symptoms do not change when you stand, walk, sit or bend forward. MILD treats symptoms "
        "that do."),
        "No claudication pattern: neither worse standing/walking nor relieved sitting/flexion.",
        "Suri 2010 (absence of neurogenic claudication LR 0.23)",
    ),
    # Retired in 2026.2 (see K12); kept so that results made under 2026.1 can still be explained.
    "U3": RuleText(
        N_("Your scan points to a cause other than a thick ligament, such as bone spurs, a disc or an "
        "unstable spine. These usually need other treatment."),
        "Imaging points elsewhere: bone spurs, disc herniation or instability without ligamentum flavum "
        "hypertrophy.",
        "MIST 2.0",
    ),
    "U4": RuleText(
        N_("You can walk for more than 30 minutes, so your walking is not very limited."),
        "No real walking limit (over 30 minutes).",
        "MiDAS ENCORE",
    ),
    # Cautions
    "K1": RuleText(
        N_("You take a blood thinner, or are not sure. Keep taking it. Before any procedure, the clinic "
        "will make a plan with the doctor who prescribes it."),
        "Antithrombotic or unsure: coordinate with prescriber; MILD is high bleeding-risk (ASRA 2018).",
        "ASRA 2018 (Narouze et al.)",
    ),
    "K2": RuleText(
        N_("You have a bleeding problem, or are not sure. Tell the doctor about it at your visit."),
        "Bleeding disorder yes or unsure.",
        "ASRA 2018",
    ),
    "K3": RuleText(
        N_("Lying on your stomach for about an hour may be hard for you. Tell the doctor, who can talk "
        "about ways to help."),
        "May not tolerate prone positioning for about an hour.",
        "Procedure requirements",
    ),
    "K4": RuleText(
        N_("You have had a problem with sedation before. Tell the doctor what happened."),
        "Prior serious problem with sedation or anesthesia.",
        "Procedure requirements",
    ),
    "K5": RuleText(
        N_("Your leg pain when walking may have another cause, such as poor blood flow in your legs or a hip "
        "problem. The doctor will want to check for it."),
        "Vascular disease yes or unsure, or walking pain not eased by sitting: rule out vascular claudication "
        "and hip disease.",
        "Differential diagnosis",
    ),
    "K6": RuleText(
        N_("You have had surgery on your lower back. Bring any records of it to your visit."),
        "Prior lumbar surgery: prior surgery at the treated level excluded patients from the trials; a fusion at "
        "the level matters most.",
        "MOTION",
    ),
    "K7": RuleText(
        N_("Your scan showed a slipped bone in your spine. The doctor will check how much it has slipped."),
        "Spondylolisthesis: MOTION allowed grade I without instability; MIST 2.0 allows grade 2 or less. "
        "Check flexion-extension X-rays.",
        "MOTION; MIST 2.0 (J Pain Res 2022)",
    ),
    "K8": RuleText(
        N_("You need an MRI or CT scan from the last 12 months. If you do not have one, the clinic can "
        "help arrange it."),
        "No imaging within 12 months: MRI or CT needed.",
        "MOTION",
    ),
    "K9": RuleText(
        N_("You have leg pain even when sitting. The doctor will look for other causes too."),
        "Pain when seated: argues against stenosis as the only cause.",
        "Suri 2010 (no pain seated LR 7.4)",
    ),
    "K10": RuleText(
        N_("The doctor will check carefully that the procedure is safe for you."),
        "Age over 80 or cannot walk 10 steps even with a cane or walker: fitness for procedure needs a "
        "closer look.",
        "MOTION (age 50-80)",
    ),
    "K11": RuleText(
        N_("A doctor told you that your blood thinner must not be stopped, or you are not sure. Keep taking "
        "it. The clinic will talk with the doctor who prescribes it before any date is set."),
        "Antithrombotic that may be unsafe to hold (stent, mechanical valve, recent clot) or unsure: prescriber "
        "or cardiologist must agree before any date is set.",
        "ASRA 2018 (Narouze et al.)",
    ),
    "K12": RuleText(
        N_("Your scan report names other changes, such as bone spurs or a disc, and not a thick ligament. "
        "The doctor will read your scan to see what is causing your symptoms."),
        "Imaging needs review: bone spurs, disc herniation or instability reported without ligamentum flavum "
        "hypertrophy.",
        "MIST 2.0",
    ),
    "K13": RuleText(
        N_("Your scan report says your spine may be unstable. MILD is not used for an unstable spine, so the "
        "doctor will check this on your scans."),
        "Instability reported: MILD is not for an unstable segment; confirm with imaging.",
        "MOTION; MIST 2.0",
    ),
}

# What the patient reads when a core criterion is not met: what is missing or uncertain (spec section 4).
UNMET_TEXTS: dict[str, str] = {
    "C1": N_("Your leg symptoms do not follow the usual pattern. In that pattern they come on when you stand or "
    "walk, and ease when you sit or bend forward."),
    "C2": N_("You have had these symptoms for less than 3 months."),
    "C3": N_("You have not yet tried physical therapy or spine shots for 3 months without lasting relief."),
    "C4": N_("We do not know yet if a scan shows a thick ligament in your spine. Bring your latest scan "
    "report, or the clinic can help arrange a scan."),
    "C5": N_("MILD is for people whose symptoms make them stop walking after a few minutes up to half an "
    "hour. Your answer about walking was different."),
    "C6": N_("You rated your average pain below 5 out of 10."),
    "C7": N_("You are under 50. Most people helped by MILD are older."),
}

# The 'what is missing' wording for a patient who said they have had no MRI or CT scan.
UNMET_NO_SCAN_TEXTS: dict[str, str] = {
    "C4": N_("You have not had an MRI or CT scan, so we cannot tell yet if your spine has a thick ligament. "
             "The clinic can help arrange a scan."),
}


def unmet_text(rule_id: str, answers: Mapping[str, Any]) -> str:
    """What the patient reads for an unmet criterion, worded for their answers (no scan to bring if none)."""
    if answers.get("had_mri") == "no" and rule_id in UNMET_NO_SCAN_TEXTS:
        return UNMET_NO_SCAN_TEXTS[rule_id]
    return UNMET_TEXTS[rule_id]
