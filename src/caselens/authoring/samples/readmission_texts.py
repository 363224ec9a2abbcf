"""The ``readmission-30d`` sample's patient texts in English, Spanish and French, written by
people: a table of words (long by nature, read as one); see :mod:`.patient_texts`.
"""

from __future__ import annotations

from typing import Any

from caselens.authoring.samples.patient_texts import SEX, YES_NO, inputs_in

_DIAGNOSIS_WORDS = {
    "en": {
        "Circulatory": "heart or blood vessels",
        "Respiratory": "lungs or breathing",
        "Digestive": "stomach or gut",
        "Diabetes": "diabetes",
        "Injury": "an injury",
        "Musculoskeletal": "muscles or bones",
        "Genitourinary": "kidneys, bladder or sex organs",
        "Neoplasms": "a growth or cancer",
        "Other": "something else",
    },
    "es": {
        "Circulatory": "corazón o vasos de sangre",
        "Respiratory": "pulmones o respiración",
        "Digestive": "estómago o intestinos",
        "Diabetes": "diabetes",
        "Injury": "una lesión",
        "Musculoskeletal": "músculos o huesos",
        "Genitourinary": "riñones, vejiga u órganos sexuales",
        "Neoplasms": "un tumor o cáncer",
        "Other": "otra cosa",
    },
    "fr": {
        "Circulatory": "cœur ou vaisseaux",
        "Respiratory": "poumons ou respiration",
        "Digestive": "estomac ou intestins",
        "Diabetes": "diabète",
        "Injury": "une blessure",
        "Musculoskeletal": "muscles ou os",
        "Genitourinary": "reins, vessie ou organes sexuels",
        "Neoplasms": "une grosseur ou un cancer",
        "Other": "autre chose",
    },
}
_MEDICINE_WORDS = {
    "en": {
        "Not prescribed": "not given",
        "Steady dose": "same dose",
        "Dose increased": "higher dose",
        "Dose decreased": "lower dose",
    },
    "es": {
        "Not prescribed": "no se recetó",
        "Steady dose": "misma dosis",
        "Dose increased": "dosis más alta",
        "Dose decreased": "dosis más baja",
    },
    "fr": {
        "Not prescribed": "pas prescrite",
        "Steady dose": "même dose",
        "Dose increased": "dose plus forte",
        "Dose decreased": "dose plus faible",
    },
}
#: The medicine-dose words, for a later version's added medication input.
MEDICINE_WORDS = _MEDICINE_WORDS
_SUGAR_TEST = {
    "en": {"Normal": "normal", "Not measured": "not done"},
    "es": {"Normal": "normal", "Not measured": "no se hizo"},
    "fr": {"Normal": "normal", "Not measured": "pas fait"},
}
_ABOVE = {"en": "above", "es": "más de", "fr": "plus de"}


def _above(language: str, values: tuple[str, ...]) -> dict[str, str]:
    """'Above 200' → 'above 200' / 'más de 200' / 'plus de 200'."""
    out = dict(_SUGAR_TEST[language])
    for value in values:
        number = value.removeprefix("Above ")
        if language == "fr" and number.endswith("%"):
            number = number[:-1] + " %"  # French sets a space before the sign
        out[value] = f"{_ABOVE[language]} {number}"
    return out


_READMISSION: dict[str, dict[str, tuple]] = {
    "race": {
        "en": (
            "Race",
            {
                "White": "White",
                "Black": "Black",
                "Hispanic": "Hispanic",
                "Asian": "Asian",
                "Other": "other",
            },
            None,
        ),
        "es": (
            "Origen",
            {
                "White": "blanco",
                "Black": "negro",
                "Hispanic": "hispano",
                "Asian": "asiático",
                "Other": "otro",
            },
            None,
        ),
        "fr": (
            "Origine",
            {
                "White": "blanche",
                "Black": "noire",
                "Hispanic": "hispanique",
                "Asian": "asiatique",
                "Other": "autre",
            },
            None,
        ),
    },
    "sex": {lang: (label, values, None) for lang, (label, values) in SEX.items()},
    "age_band": {"en": ("Age", {}, None), "es": ("Edad", {}, None), "fr": ("Âge", {}, None)},
    "admission_type": {
        "en": (
            "Type of hospital stay",
            {
                "Elective": "planned",
                "Emergency": "emergency",
                "Newborn": "newborn",
                "Trauma center": "trauma center",
                "Urgent": "urgent",
            },
            None,
        ),
        "es": (
            "Tipo de ingreso",
            {
                "Elective": "planeado",
                "Emergency": "emergencia",
                "Newborn": "recién nacido",
                "Trauma center": "centro de traumas",
                "Urgent": "urgente",
            },
            None,
        ),
        "fr": (
            "Type de séjour",
            {
                "Elective": "prévu",
                "Emergency": "urgence",
                "Newborn": "nouveau-né",
                "Trauma center": "centre des blessés graves",
                "Urgent": "urgent",
            },
            None,
        ),
    },
    "admission_source": {
        "en": (
            "How you came into the hospital",
            {
                "Emergency room": "through the emergency room",
                "Other": "some other way",
                "Referral": "sent by a doctor",
                "Transfer from another facility": "moved from another place of care",
            },
            None,
        ),
        "es": (
            "Cómo llegó al hospital",
            {
                "Emergency room": "por urgencias",
                "Other": "de otra forma",
                "Referral": "enviado por un médico",
                "Transfer from another facility": "traslado desde otro centro",
            },
            None,
        ),
        "fr": (
            "Arrivée à l'hôpital",
            {
                "Emergency room": "par les urgences",
                "Other": "d'une autre façon",
                "Referral": "envoyé par un médecin",
                "Transfer from another facility": "venu d'un autre lieu de soins",
            },
            None,
        ),
    },
    "discharge_to": {
        "en": (
            "Where you went after the hospital",
            {
                "Another hospital": "another hospital",
                "Home": "home",
                "Home with home health care": "home, with care at home",
                "Left against medical advice": "left before the doctors said to",
                "Other": "some other place",
                "Skilled nursing or care facility": "a nursing or care home",
            },
            None,
        ),
        "es": (
            "A dónde fue después del hospital",
            {
                "Another hospital": "otro hospital",
                "Home": "a casa",
                "Home with home health care": "a casa, con cuidados en casa",
                "Left against medical advice": "se fue antes de que los médicos lo dijeran",
                "Other": "otro lugar",
                "Skilled nursing or care facility": "una residencia de cuidados",
            },
            None,
        ),
        "fr": (
            "Où vous êtes allé après l'hôpital",
            {
                "Another hospital": "un autre hôpital",
                "Home": "chez vous",
                "Home with home health care": "chez vous, avec des soins à la maison",
                "Left against medical advice": "parti avant l'accord des médecins",
                "Other": "un autre lieu",
                "Skilled nursing or care facility": "une maison de soins",
            },
            None,
        ),
    },
    "payer": {
        "en": (
            "Health insurance",
            {
                "Medicaid": "Medicaid",
                "Medicare": "Medicare",
                "Private or other insurer": "private or other insurance",
                "Self-pay": "you paid yourself",
            },
            None,
        ),
        "es": (
            "Seguro médico",
            {
                "Medicaid": "Medicaid",
                "Medicare": "Medicare",
                "Private or other insurer": "seguro privado u otro",
                "Self-pay": "pagó usted",
            },
            None,
        ),
        "fr": (
            "Assurance santé",
            {
                "Medicaid": "Medicaid",
                "Medicare": "Medicare",
                "Private or other insurer": "assurance privée ou autre",
                "Self-pay": "payé par vous",
            },
            None,
        ),
    },
    "admitting_specialty": {
        "en": (
            "Type of doctor who admitted you",
            {
                "Cardiology": "heart doctor",
                "Emergency medicine": "emergency doctor",
                "Family or general practice": "family doctor",
                "Internal medicine": "doctor for adults",
                "Other specialty": "other kind of doctor",
                "Surgery": "surgeon",
            },
            None,
        ),
        "es": (
            "Tipo de médico que le ingresó",
            {
                "Cardiology": "médico del corazón",
                "Emergency medicine": "médico de urgencias",
                "Family or general practice": "médico de familia",
                "Internal medicine": "médico de adultos",
                "Other specialty": "otro tipo de médico",
                "Surgery": "cirujano",
            },
            None,
        ),
        "fr": (
            "Médecin qui vous a admis",
            {
                "Cardiology": "médecin du cœur",
                "Emergency medicine": "médecin des urgences",
                "Family or general practice": "médecin de famille",
                "Internal medicine": "médecin des adultes",
                "Other specialty": "autre type de médecin",
                "Surgery": "chirurgien",
            },
            None,
        ),
    },
    "diagnosis_1": {
        "en": ("Main reason for the hospital stay", _DIAGNOSIS_WORDS["en"], None),
        "es": ("Motivo principal del ingreso", _DIAGNOSIS_WORDS["es"], None),
        "fr": ("Raison principale du séjour", _DIAGNOSIS_WORDS["fr"], None),
    },
    "diagnosis_2": {
        "en": ("Second health problem", _DIAGNOSIS_WORDS["en"], None),
        "es": ("Segundo problema de salud", _DIAGNOSIS_WORDS["es"], None),
        "fr": ("Deuxième problème de santé", _DIAGNOSIS_WORDS["fr"], None),
    },
    "diagnosis_3": {
        "en": ("Third health problem", _DIAGNOSIS_WORDS["en"], None),
        "es": ("Tercer problema de salud", _DIAGNOSIS_WORDS["es"], None),
        "fr": ("Troisième problème de santé", _DIAGNOSIS_WORDS["fr"], None),
    },
    "glucose_serum_test": {
        "en": ("Blood sugar test in the hospital", _above("en", ("Above 200", "Above 300")), None),
        "es": ("Prueba de azúcar en el hospital", _above("es", ("Above 200", "Above 300")), None),
        "fr": ("Test du sucre à l'hôpital", _above("fr", ("Above 200", "Above 300")), None),
    },
    "a1c_result": {
        "en": ("A1c test of average blood sugar", _above("en", ("Above 7%", "Above 8%")), None),
        "es": ("Prueba A1c del azúcar promedio", _above("es", ("Above 7%", "Above 8%")), None),
        "fr": ("Test A1c du sucre moyen", _above("fr", ("Above 7%", "Above 8%")), None),
    },
    "insulin": {
        "en": ("Insulin", _MEDICINE_WORDS["en"], None),
        "es": ("Insulina", _MEDICINE_WORDS["es"], None),
        "fr": ("Insuline", _MEDICINE_WORDS["fr"], None),
    },
    "metformin": {
        "en": ("Metformin, a diabetes pill", _MEDICINE_WORDS["en"], None),
        "es": ("Metformina, una pastilla para la diabetes", _MEDICINE_WORDS["es"], None),
        "fr": ("Metformine, un comprimé pour le diabète", _MEDICINE_WORDS["fr"], None),
    },
    "medication_change": {
        "en": ("Diabetes medicine changed", {"Changed": "yes", "Not changed": "no"}, None),
        "es": ("Cambio de medicina para la diabetes", {"Changed": "sí", "Not changed": "no"}, None),
        "fr": ("Traitement du diabète changé", {"Changed": "oui", "Not changed": "non"}, None),
    },
    "diabetes_medication": {
        "en": ("Takes diabetes medicine", YES_NO["en"], None),
        "es": ("Toma medicina para la diabetes", YES_NO["es"], None),
        "fr": ("Prend un traitement pour le diabète", YES_NO["fr"], None),
    },
    "time_in_hospital": {
        "en": ("Days in the hospital", {}, "days"),
        "es": ("Días en el hospital", {}, "días"),
        "fr": ("Jours à l'hôpital", {}, "jours"),
    },
    "num_lab_procedures": {
        "en": ("Number of lab tests", {}, "tests"),
        "es": ("Número de análisis", {}, "análisis"),
        "fr": ("Nombre d'analyses", {}, "analyses"),
    },
    "num_procedures": {
        "en": ("Number of other tests and treatments", {}, ""),
        "es": ("Número de otras pruebas y tratamientos", {}, ""),
        "fr": ("Nombre d'autres examens et soins", {}, ""),
    },
    "num_medications": {
        "en": ("Number of medicines", {}, "medicines"),
        "es": ("Número de medicinas", {}, "medicinas"),
        "fr": ("Nombre de médicaments", {}, "médicaments"),
    },
    "number_outpatient": {
        "en": ("Clinic visits in the past year", {}, "visits"),
        "es": ("Consultas en el último año", {}, "consultas"),
        "fr": ("Consultations l'an passé", {}, "consultations"),
    },
    "number_emergency": {
        "en": ("Emergency room visits in the past year", {}, "visits"),
        "es": ("Visitas a urgencias en el último año", {}, "visitas"),
        "fr": ("Passages aux urgences l'an passé", {}, "passages"),
    },
    "number_inpatient": {
        "en": ("Hospital stays in the past year", {}, "stays"),
        "es": ("Ingresos en el hospital en el último año", {}, "ingresos"),
        "fr": ("Séjours à l'hôpital l'an passé", {}, "séjours"),
    },
    "number_diagnoses": {
        "en": ("Number of health problems recorded", {}, "problems"),
        "es": ("Número de problemas de salud anotados", {}, "problemas"),
        "fr": ("Nombre de problèmes de santé notés", {}, "problèmes"),
    },
}

READMISSION: dict[str, Any] = {
    "model_kind": "prognostic",
    "patient_texts": {
        "en": {
            "outcome": "go back into the hospital within 30 days",
            "inputs": inputs_in(_READMISSION, "en"),
            "questions": [
                "What does this mean for me?",
                "What can I do to stay well at home?",
                "Which signs mean I should call you?",
            ],
        },
        "es": {
            "outcome": "vuelven al hospital en menos de 30 días",
            "inputs": inputs_in(_READMISSION, "es"),
            "questions": [
                "¿Qué significa esto para mí?",
                "¿Qué puedo hacer para estar bien en casa?",
                "¿Con qué señales debo llamarles?",
            ],
        },
        "fr": {
            "outcome": "retournent à l'hôpital dans les 30 jours",
            "inputs": inputs_in(_READMISSION, "fr"),
            "questions": [
                "Qu'est-ce que cela veut dire pour moi ?",
                "Que puis-je faire pour rester en forme à la maison ?",
                "Quels signes doivent me faire vous appeler ?",
            ],
        },
    },
}
