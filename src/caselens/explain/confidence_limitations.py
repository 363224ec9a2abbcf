"""The limitations a case's confidence figures raise: an uncertain conformal set, a model
without calibration or without an interval, a probability near the threshold, sparse test
evidence at this probability, and an estimate outside its neighbourhood's observed rate."""

from __future__ import annotations

from caselens.explain.confidence.results import ConfidenceAssessment
from caselens.explain.limitation_record import Limitation


def confidence_limitations(confidence: ConfidenceAssessment) -> list[Limitation]:
    """Every limitation the confidence figures raise, in a fixed order (set, calibration,
    threshold, evidence, neighbourhood). NEAR_THRESHOLD here follows
    ``confidence.near_threshold``; a bundle's band replaces it (:func:`case_limitations`)."""
    return [
        *_uncertain_set(confidence),
        *_calibration(confidence),
        *_near_threshold(confidence),
        *_sparse_evidence(confidence),
        *_outside_neighbourhood(confidence),
    ]


def _uncertain_set(confidence: ConfidenceAssessment) -> list[Limitation]:
    """UNCERTAIN_SET: the conformal set names no single outcome on the threshold's side."""
    conformal = confidence.conformal
    # A set that names no single outcome on the threshold's own side is uncertain: both
    # labels, none, or one label on the other side of the threshold ("conflict"). With sets
    # that hold their coverage within each outcome class, "cannot rule out either outcome"
    # is the usual honest answer for a moderately discriminating model (38-64% of test
    # patients in our four test bundles): the set says so in the probability section and
    # this is a note. A conflict with the threshold, or a set that fits neither outcome,
    # is rare and is a caution.
    if conformal is None or (len(conformal.labels) == 1 and conformal.reading != "conflict"):
        return []
    alarming = len(conformal.labels) == 0 or conformal.reading == "conflict"
    return [
        Limitation(
            code="UNCERTAIN_SET",
            severity="caution" if alarming else "info",
            clinician_text=f"Conformal prediction set {{{', '.join(map(str, conformal.labels))}"
            f"}}: {conformal.statement}",
            patient_text="The tool cannot tell well which way things will go for you.",
            trigger=f"conformal set {list(conformal.labels)} at {conformal.coverage}"
            + (f" ({conformal.reading})" if conformal.reading else ""),
        )
    ]


def _calibration(confidence: ConfidenceAssessment) -> list[Limitation]:
    """NOT_CALIBRATED for an uncalibrated model, else NO_PROBABILITY_INTERVAL when a
    calibrated model's probability has no interval."""
    if not confidence.calibrated:
        return [
            Limitation(
                code="NOT_CALIBRATED",
                severity="warning",
                clinician_text="The model's probabilities are not calibrated (model card: "
                f"calibration method '{confidence.calibration_method}'): the number is the "
                "model's score on a 0–100% scale and may not match how often the outcome "
                "happens; check the reliability curve. No interval for the probability can "
                "be given.",
                patient_text="This tool's numbers have not been checked against how often "
                "this really happens, so the number may be off.",
                trigger=f"calibration method = {confidence.calibration_method}",
            )
        ]
    if confidence.interval is None and confidence.interval_unavailable_reason:
        return [
            Limitation(
                code="NO_PROBABILITY_INTERVAL",
                severity="info",
                clinician_text=confidence.interval_unavailable_reason,
                patient_text=None,
                trigger="no interval for the probability",
            )
        ]
    return []


def _near_threshold(confidence: ConfidenceAssessment) -> list[Limitation]:
    """NEAR_THRESHOLD by the assessment's own rule (without a bundle's band)."""
    if not confidence.near_threshold:
        return []
    return [
        Limitation(
            code="NEAR_THRESHOLD",
            severity="caution",
            clinician_text=f"The probability is {confidence.side_statement}: "
            f"{confidence.near_threshold_reason}",
            patient_text=None,
            trigger=f"|{confidence.probability:.3f} − {confidence.threshold}| = "
            f"{confidence.distance_points:.1f} points",
        )
    ]


def _sparse_evidence(confidence: ConfidenceAssessment) -> list[Limitation]:
    """SPARSE_EVIDENCE: few tested patients had a probability like this one."""
    hood = confidence.neighbourhood
    if not (hood.outside_reference or hood.off_centre):
        return []
    how = "extreme" if hood.outside_reference else "high or low"
    return [
        Limitation(
            code="SPARSE_EVIDENCE",
            severity="caution",
            clinician_text=f"Few tested patients had a probability this {how}: the nearest "
            f"{hood.n} had a mean predicted {100 * hood.mean_predicted:.1f}% "
            f"against {100 * confidence.probability:.1f}% here, so the "
            "reliability figures are only the nearest available evidence.",
            patient_text=None,
            trigger=f"neighbourhood mean predicted {hood.mean_predicted:.3f} vs probability "
            f"{confidence.probability:.3f}",
        )
    ]


def _outside_neighbourhood(confidence: ConfidenceAssessment) -> list[Limitation]:
    """ESTIMATE_OUTSIDE_NEIGHBOURHOOD: the estimate lies outside the observed rate's interval
    among the most similar test patients."""
    if not (confidence.estimate_outside_neighbourhood and confidence.neighbourhood_statement):
        return []
    hood = confidence.neighbourhood
    return [
        Limitation(
            code="ESTIMATE_OUTSIDE_NEIGHBOURHOOD",
            severity="caution",
            clinician_text=f"{confidence.neighbourhood_statement} The model may be "
            "miscalibrated for patients like this one.",
            patient_text=None,
            trigger=f"probability {confidence.probability:.3f} outside "
            f"[{hood.ci_low:.3f}, {hood.ci_high:.3f}]",
        )
    ]
