"""The sample models' patient texts in English, Spanish and French, written by people.

Each language gives the outcome (completing "About X out of 100 people like you …"), each
input's label, the words for each category value, each unit, and the questions. Plain words,
short: the patient page is measured in each language (see caselens.explain.patient_language).
The heart-disease sample's texts are here with the shared words; the readmission sample's are
in :mod:`.readmission_texts`.
"""

from __future__ import annotations

from typing import Any

YES_NO = {
    "en": {"Yes": "yes", "No": "no"},
    "es": {"Yes": "sí", "No": "no"},
    "fr": {"Yes": "oui", "No": "non"},
}
SEX = {
    "en": ("Sex", {"Female": "female", "Male": "male"}),
    "es": ("Sexo", {"Female": "mujer", "Male": "hombre"}),
    "fr": ("Sexe", {"Female": "femme", "Male": "homme"}),
}


def inputs_in(table: dict[str, dict[str, tuple]], language: str) -> dict[str, Any]:
    """name → {label, values, unit} in one language, from rows of (label, values, unit)."""
    out: dict[str, Any] = {}
    for name, by_language in table.items():
        label, values, unit = by_language[language]
        out[name] = {"label": label, "values": dict(values), "unit": unit}
    return out


_HEART: dict[str, dict[str, tuple]] = {
    "age": {"en": ("Age", {}, "years"), "es": ("Edad", {}, "años"), "fr": ("Âge", {}, "ans")},
    "sex": {lang: (label, values, None) for lang, (label, values) in SEX.items()},
    "chest_pain": {
        "en": (
            "Type of chest pain",
            {
                "Typical angina": "pain typical of a heart problem",
                "Atypical angina": "pain not typical of a heart problem",
                "Non-anginal pain": "pain that does not come from the heart",
                "No chest pain": "no chest pain",
            },
            None,
        ),
        "es": (
            "Tipo de dolor de pecho",
            {
                "Typical angina": "dolor típico de un problema del corazón",
                "Atypical angina": "dolor poco típico de un problema del corazón",
                "Non-anginal pain": "dolor que no viene del corazón",
                "No chest pain": "sin dolor de pecho",
            },
            None,
        ),
        "fr": (
            "Type de douleur à la poitrine",
            {
                "Typical angina": "douleur typique d'un problème de cœur",
                "Atypical angina": "douleur peu typique d'un problème de cœur",
                "Non-anginal pain": "douleur qui ne vient pas du cœur",
                "No chest pain": "pas de douleur",
            },
            None,
        ),
    },
    "resting_bp": {
        "en": ("Blood pressure at rest", {}, "mm Hg"),
        "es": ("Presión de la sangre en reposo", {}, "mm Hg"),
        "fr": ("Tension au repos", {}, "mm Hg"),
    },
    "cholesterol": {
        "en": ("Cholesterol", {}, "mg/dL"),
        "es": ("Colesterol", {}, "mg/dL"),
        "fr": ("Cholestérol", {}, "mg/dL"),
    },
    "fasting_glucose_high": {
        "en": ("High blood sugar when fasting", YES_NO["en"], None),
        "es": ("Azúcar alto en la sangre en ayunas", YES_NO["es"], None),
        "fr": ("Sucre élevé dans le sang à jeun", YES_NO["fr"], None),
    },
    "resting_ecg": {
        "en": (
            "Heart tracing at rest",
            {
                "Normal": "normal",
                "ST-T wave abnormality": "a change in the tracing",
                "Left ventricular hypertrophy": "signs of a thick heart wall",
            },
            None,
        ),
        "es": (
            "Trazado del corazón en reposo",
            {
                "Normal": "normal",
                "ST-T wave abnormality": "un cambio en el trazado",
                "Left ventricular hypertrophy": "signos de una pared del corazón gruesa",
            },
            None,
        ),
        "fr": (
            "Tracé du cœur au repos",
            {
                "Normal": "normal",
                "ST-T wave abnormality": "un changement dans le tracé",
                "Left ventricular hypertrophy": "signes d'une paroi du cœur épaisse",
            },
            None,
        ),
    },
    "max_heart_rate": {
        "en": ("Highest heart rate in the exercise test", {}, "beats a minute"),
        "es": ("Pulso más alto en la prueba de esfuerzo", {}, "latidos por minuto"),
        "fr": ("Pouls le plus haut au test d'effort", {}, "battements par minute"),
    },
    "exercise_angina": {
        "en": ("Chest pain during exercise", YES_NO["en"], None),
        "es": ("Dolor de pecho al hacer ejercicio", YES_NO["es"], None),
        "fr": ("Douleur à la poitrine à l'effort", YES_NO["fr"], None),
    },
    "st_depression": {
        "en": ("Change in the heart tracing during exercise", {}, "mm"),
        "es": ("Cambio en el trazado del corazón con el ejercicio", {}, "mm"),
        "fr": ("Changement du tracé du cœur à l'effort", {}, "mm"),
    },
    "st_slope": {
        "en": (
            "Shape of the heart tracing during exercise",
            {"Upsloping": "going up", "Flat": "flat", "Downsloping": "going down"},
            None,
        ),
        "es": (
            "Forma del trazado del corazón con el ejercicio",
            {"Upsloping": "sube", "Flat": "plana", "Downsloping": "baja"},
            None,
        ),
        "fr": (
            "Forme du tracé du cœur à l'effort",
            {"Upsloping": "monte", "Flat": "plate", "Downsloping": "descend"},
            None,
        ),
    },
    "major_vessels": {
        "en": ("Blood vessels that looked narrow on the X-ray", {}, "vessels"),
        "es": ("Vasos de sangre que se veían estrechos en la radiografía", {}, "vasos"),
        "fr": ("Vaisseaux qui semblaient étroits à la radio", {}, "vaisseaux"),
    },
    "thallium_test": {
        "en": (
            "Heart scan result",
            {
                "Normal": "normal",
                "Fixed defect": "a part of the heart gets little blood at all times",
                "Reversible defect": "a part of the heart gets less blood during exercise",
            },
            None,
        ),
        "es": (
            "Resultado del escáner del corazón",
            {
                "Normal": "normal",
                "Fixed defect": "una parte del corazón recibe poca sangre siempre",
                "Reversible defect": "una parte del corazón recibe menos sangre con el ejercicio",
            },
            None,
        ),
        "fr": (
            "Résultat de l'image du cœur",
            {
                "Normal": "normal",
                "Fixed defect": "une partie du cœur reçoit peu de sang tout le temps",
                "Reversible defect": "une partie du cœur reçoit moins de sang à l'effort",
            },
            None,
        ),
    },
}

HEART_DISEASE: dict[str, Any] = {
    "model_kind": "diagnostic",
    "patient_texts": {
        "en": {
            "outcome": "have narrowed heart arteries found by the heart test",
            "inputs": inputs_in(_HEART, "en"),
            "questions": [
                "What does this mean for me?",
                "Which test would tell us for sure?",
                "What happens next?",
            ],
        },
        "es": {
            "outcome": "tienen arterias del corazón estrechas en la prueba",
            "inputs": inputs_in(_HEART, "es"),
            "questions": [
                "¿Qué significa esto para mí?",
                "¿Qué prueba nos lo diría con seguridad?",
                "¿Qué pasa ahora?",
            ],
        },
        "fr": {
            "outcome": "ont des artères du cœur rétrécies à l'examen",
            "inputs": inputs_in(_HEART, "fr"),
            "questions": [
                "Qu'est-ce que cela veut dire pour moi ?",
                "Quel examen nous le dirait à coup sûr ?",
                "Que se passe-t-il ensuite ?",
            ],
        },
    },
}
