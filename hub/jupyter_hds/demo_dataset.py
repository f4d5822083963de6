"""Synthetic pseudonymised cohort for the demo project: patients, hospital stays, lab results."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

# ICD-10 codes with a rough weight, so counts look like a general hospital.
DIAGNOSES = {
    "I10": 14, "E11.9": 10, "J18.9": 8, "I48.9": 6, "N18.3": 5, "I50.9": 5,
    "J44.1": 4, "K80.2": 3, "S72.0": 3, "C34.9": 2, "F32.9": 3, "A41.9": 2,
}  # fmt: skip
# French administrative region codes.
REGIONS = ["11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93"]
UNITS = ["cardiology", "internal-medicine", "pulmonology", "nephrology", "surgery", "geriatrics"]
# LOINC code, label, unit, mean, standard deviation
LAB_TESTS = [
    ("2345-7", "glucose", "mmol/L", 6.2, 1.8),
    ("4548-4", "hba1c", "%", 6.4, 1.1),
    ("2160-0", "creatinine", "umol/L", 88.0, 30.0),
    ("718-7", "hemoglobin", "g/dL", 13.2, 1.7),
    ("1988-5", "crp", "mg/L", 12.0, 20.0),
    ("2951-2", "sodium", "mmol/L", 139.0, 3.0),
]
TABLES = ("patients", "stays", "labs")


def pseudonym(index: int, salt: str) -> str:
    """A stable pseudonym that reveals nothing about the index it was made from."""
    return hashlib.sha256(f"{salt}:{index}".encode()).hexdigest()[:16]


def make_patients(rng: np.random.Generator, count: int, salt: str) -> pd.DataFrame:
    ages = rng.integers(18, 96, count)
    low = (ages // 5) * 5
    return pd.DataFrame(
        {
            "pseudo_id": [pseudonym(i, salt) for i in range(count)],
            "sex": rng.choice(["F", "M"], count),
            "age_band": [f"{a}-{a + 4}" for a in low],
            "region": rng.choice(REGIONS, count),
            "deceased": rng.random(count) < 0.04,
        }
    )  # fmt: skip


def make_stays(rng: np.random.Generator, patients: pd.DataFrame) -> pd.DataFrame:
    per_patient = rng.poisson(2.2, len(patients)) + 1
    ids = np.repeat(patients["pseudo_id"].to_numpy(), per_patient)
    count = len(ids)
    codes = list(DIAGNOSES)
    weights = np.array(list(DIAGNOSES.values()), dtype=float)
    admitted = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365, count), "D")
    length = rng.geometric(0.18, count)
    return pd.DataFrame(
        {
            "stay_id": [f"S{n:07d}" for n in range(count)],
            "pseudo_id": ids,
            "admission_date": admitted.date,
            "discharge_date": (admitted + pd.to_timedelta(length, "D")).date,
            "unit": rng.choice(UNITS, count),
            "main_diagnosis": rng.choice(codes, count, p=weights / weights.sum()),
        }
    )


def make_labs(rng: np.random.Generator, stays: pd.DataFrame) -> pd.DataFrame:
    per_stay = rng.poisson(4, len(stays)) + 1
    rows = np.repeat(np.arange(len(stays)), per_stay)
    tests = rng.integers(0, len(LAB_TESTS), len(rows))
    means = np.array([t[3] for t in LAB_TESTS])[tests]
    sds = np.array([t[4] for t in LAB_TESTS])[tests]
    values = np.clip(rng.normal(means, sds), 0.1, None).round(1)
    stay = stays.iloc[rows]
    offset = pd.to_timedelta(rng.integers(0, 3, len(rows)), "D")
    return pd.DataFrame(
        {
            "pseudo_id": stay["pseudo_id"].to_numpy(),
            "stay_id": stay["stay_id"].to_numpy(),
            "sample_date": (pd.to_datetime(stay["admission_date"]).to_numpy() + offset).date,
            "loinc": [LAB_TESTS[t][0] for t in tests],
            "test": [LAB_TESTS[t][1] for t in tests],
            "value": values,
            "unit": [LAB_TESTS[t][2] for t in tests],
        }
    )


def generate(
    folder: Path, patients: int = 2000, seed: int = 2024, salt: str = "demo"
) -> list[Path]:
    """Write the cohort's tables as Parquet files in `folder`; return their paths.

    Files are written under a temporary name and renamed, so a reader never sees half a table.
    """
    rng = np.random.default_rng(seed)
    people = make_patients(rng, patients, salt)
    stays = make_stays(rng, people)
    tables = {"patients": people, "stays": stays, "labs": make_labs(rng, stays)}
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        target = folder / f"{name}.parquet"
        partial = target.with_suffix(".parquet.partial")
        frame.to_parquet(partial, index=False)
        partial.rename(target)
        target.chmod(0o644)
        written.append(target)
    return written


def ensure(folder: Path, **kwargs) -> bool:
    """Generate the cohort in `folder` unless its tables are already there; True if generated."""
    if all((folder / f"{name}.parquet").is_file() for name in TABLES):
        return False
    generate(folder, **kwargs)
    return True
