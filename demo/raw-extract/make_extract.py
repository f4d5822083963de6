"""A synthetic raw hospital extract with realistic French identities, as a hosting team gets one.

Writes patients.csv, stays.csv and labs.csv: names, NIR (with valid keys, consistent with
sex and birth date), addresses, postcodes, phones and e-mails as hospitals export them;
hospital stays with ICD-10 diagnoses; lab results. Nobody in it exists: Faker's fr_FR
locale and a seeded generator make the same extract every time.

    python demo/raw-extract/make_extract.py OUTDIR [--patients 12000] [--seed 14]
    hds dataset import demo-cohort --project demo --spec demo/raw-extract/spec.toml OUTDIR/*.csv
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
from pathlib import Path

from faker import Faker

# The hospital's catchment: Paris and the two départements east of it (weights).
CATCHMENT = {"75": 4, "93": 3, "94": 3}
# Where patients were born (NIR département): mostly nearby, some elsewhere, abroad (99).
BIRTH_PLACES = ["75"] * 8 + ["93", "94", "92", "69", "13", "59", "2A", "2B", "971", "974", "99"]
DIAGNOSES = {
    "I10": 14, "E11.9": 10, "J18.9": 8, "I48.9": 6, "N18.3": 5, "I50.9": 5, "J44.1": 4,
    "K80.2": 3, "S72.0": 3, "C34.9": 2, "F32.9": 3, "A41.9": 2, "Z38.0": 2,
}  # fmt: skip
UNITS = ["cardiologie", "médecine interne", "pneumologie", "néphrologie", "chirurgie", "gériatrie"]
# LOINC code, label, unit, mean, standard deviation
LAB_TESTS = [
    ("2345-7", "glucose", "mmol/L", 6.2, 1.8),
    ("4548-4", "hba1c", "%", 6.4, 1.1),
    ("2160-0", "créatinine", "µmol/L", 88.0, 30.0),
    ("718-7", "hémoglobine", "g/dL", 13.2, 1.7),
    ("1988-5", "crp", "mg/L", 12.0, 20.0),
]
FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR = 1930, 2006
REGISTERED_FROM, REGISTERED_TO = dt.date(2010, 1, 1), dt.date(2023, 12, 31)


def nir(sex: str, born: dt.date, place: str, rng: random.Random) -> str:
    """A NIR as INSEE builds it: sex, year, month, birthplace, commune, order, then its key."""
    if len(place) == 3:  # overseas: three-digit département, two-digit commune
        where = place + f"{rng.randint(1, 34):02d}"
    elif place == "99":  # born abroad: 99 and the country's code
        where = "99" + f"{rng.choice([109, 127, 134, 139, 350, 351, 352]):03d}"
    else:
        where = place + f"{rng.randint(1, 400):03d}"
    sex_digit = 1 if sex == "M" else 2
    body = f"{sex_digit}{born.year % 100:02d}{born.month:02d}{where}{rng.randint(1, 999):03d}"
    number = int(body.replace("2A", "19").replace("2B", "18"))
    return f"{body}{97 - number % 97:02d}"


def postcode(rng: random.Random) -> str:
    departement = rng.choices(list(CATCHMENT), weights=list(CATCHMENT.values()))[0]
    if departement == "75":
        return f"750{rng.randint(1, 20):02d}"
    return f"{departement}{rng.randint(1, 49):02d}0"


def patients(fake: Faker, rng: random.Random, count: int) -> list[dict]:
    rows, identifiers = [], rng.sample(range(100_000_000, 999_999_999), count)
    for ipp in identifiers:
        sex = rng.choice("MF")
        born = dt.date(rng.randint(FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR), 1, 1) + dt.timedelta(
            days=rng.randrange(365)
        )
        first = fake.first_name_male() if sex == "M" else fake.first_name_female()
        rows.append(
            {
                "ipp": str(ipp),
                "nom": fake.last_name().upper(),
                "prenom": first,
                "sexe": sex,
                "date_naissance": born.isoformat(),
                "nir": nir(sex, born, rng.choice(BIRTH_PLACES), rng),
                "adresse": fake.street_address(),
                "code_postal": postcode(rng),
                "ville": fake.city(),
                "telephone": fake.phone_number() if rng.random() < 0.9 else "",
                "email": fake.email() if rng.random() < 0.7 else "",
                "date_creation_dossier": fake.date_between(
                    REGISTERED_FROM, REGISTERED_TO
                ).isoformat(),
            }
        )
    return rows


def diagnosis(rng: random.Random) -> str:
    return rng.choices(list(DIAGNOSES), weights=list(DIAGNOSES.values()))[0]


def stays(rng: random.Random, people: list[dict]) -> list[dict]:
    rows = []
    for person in people:
        born = dt.date.fromisoformat(person["date_naissance"])
        for _ in range(rng.choice([1, 1, 2, 3, 4])):
            admitted = dt.date(2018, 1, 1) + dt.timedelta(days=rng.randrange(7 * 365))
            if admitted.month == 2 and rng.random() < 0.01:
                admitted = dt.date(2020, 2, 29)  # leap days happen
            rows.append(
                {
                    "nda": str(rng.randrange(100_000_000, 999_999_999)),
                    "ipp": person["ipp"],
                    "date_entree": admitted.isoformat(),
                    "date_sortie": (admitted + dt.timedelta(days=rng.randint(0, 21))).isoformat(),
                    "age_entree": str((admitted - born).days // 365),
                    "service": rng.choice(UNITS),
                    "diagnostic_principal": diagnosis(rng),
                }
            )
    return rows


def labs(rng: random.Random, hospital_stays: list[dict]) -> list[dict]:
    rows = []
    for stay in hospital_stays:
        admitted = dt.datetime.fromisoformat(stay["date_entree"])
        for loinc, label, unit, mean, sd in rng.sample(LAB_TESTS, rng.randint(1, 4)):
            taken = admitted + dt.timedelta(hours=rng.randint(1, 48), minutes=rng.randrange(60))
            rows.append(
                {
                    "nda": stay["nda"],
                    "ipp": stay["ipp"],
                    "preleve_le": taken.isoformat(sep=" "),
                    "loinc": loinc,
                    "analyse": label,
                    "valeur": f"{max(0.1, rng.gauss(mean, sd)):.1f}",
                    "unite": unit,
                }
            )
    return rows


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def generate(folder: Path, count: int = 12_000, seed: int = 14) -> dict[str, int]:
    """Write the extract's three CSV files into `folder`; rows per file."""
    fake, rng = Faker("fr_FR"), random.Random(seed)  # noqa: S311 (synthetic data)
    fake.seed_instance(seed)
    people = patients(fake, rng, count)
    hospital_stays = stays(rng, people)
    tables = {"patients": people, "stays": hospital_stays, "labs": labs(rng, hospital_stays)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        write(folder / f"{name}.csv", rows)
    return {name: len(rows) for name, rows in tables.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--patients", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    counts = generate(args.folder, args.patients, args.seed)
    print(", ".join(f"{name}.csv: {rows} rows" for name, rows in counts.items()))


if __name__ == "__main__":
    main()
