"""Write the English MMLU-layout sample: data/sample/mmlu/{train,test}/<subject>_{train,test}.csv.

Written for this project (CC0): four subjects built from small fact tables and
arithmetic, in MMLU's CSV layout (no header; question, A, B, C, D, answer).
Train and test questions are disjoint (different countries, elements and numbers),
so the `decontam` step of assemble keeps the train seeds. Deterministic: same
script, same files. Run from the repository root:

    python data/sample/mmlu/make_mmlu.py
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
LETTERS = "ABCD"

CAPITALS = [
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Portugal", "Lisbon"),
    ("United Kingdom", "London"), ("Ireland", "Dublin"), ("Netherlands", "Amsterdam"), ("Belgium", "Brussels"),
    ("Austria", "Vienna"), ("Switzerland", "Bern"), ("Poland", "Warsaw"), ("Czech Republic", "Prague"),
    ("Hungary", "Budapest"), ("Greece", "Athens"), ("Sweden", "Stockholm"), ("Norway", "Oslo"),
    ("Denmark", "Copenhagen"), ("Finland", "Helsinki"), ("Iceland", "Reykjavik"), ("Russia", "Moscow"),
    ("Ukraine", "Kyiv"), ("Romania", "Bucharest"), ("Bulgaria", "Sofia"), ("Serbia", "Belgrade"),
    ("Croatia", "Zagreb"), ("Slovakia", "Bratislava"), ("Slovenia", "Ljubljana"), ("Lithuania", "Vilnius"),
    ("Latvia", "Riga"), ("Estonia", "Tallinn"), ("Turkey", "Ankara"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"),
    ("Ethiopia", "Addis Ababa"), ("Nigeria", "Abuja"), ("Ghana", "Accra"), ("Morocco", "Rabat"),
    ("Algeria", "Algiers"), ("Tunisia", "Tunis"), ("Senegal", "Dakar"), ("Uganda", "Kampala"),
    ("Tanzania", "Dodoma"), ("Zimbabwe", "Harare"), ("Angola", "Luanda"), ("China", "Beijing"),
    ("Japan", "Tokyo"), ("South Korea", "Seoul"), ("North Korea", "Pyongyang"), ("Mongolia", "Ulaanbaatar"),
    ("India", "New Delhi"), ("Pakistan", "Islamabad"), ("Bangladesh", "Dhaka"), ("Nepal", "Kathmandu"),
    ("Thailand", "Bangkok"), ("Vietnam", "Hanoi"), ("Cambodia", "Phnom Penh"), ("Laos", "Vientiane"),
    ("Malaysia", "Kuala Lumpur"), ("Indonesia", "Jakarta"), ("Philippines", "Manila"), ("Singapore", "Singapore"),
    ("Iran", "Tehran"), ("Iraq", "Baghdad"), ("Syria", "Damascus"), ("Jordan", "Amman"), ("Lebanon", "Beirut"),
    ("Saudi Arabia", "Riyadh"), ("Qatar", "Doha"), ("Afghanistan", "Kabul"), ("Kazakhstan", "Astana"),
    ("Uzbekistan", "Tashkent"), ("Australia", "Canberra"), ("New Zealand", "Wellington"), ("Fiji", "Suva"),
    ("Canada", "Ottawa"), ("United States", "Washington, D.C."), ("Mexico", "Mexico City"), ("Cuba", "Havana"),
    ("Jamaica", "Kingston"), ("Guatemala", "Guatemala City"), ("Panama", "Panama City"), ("Colombia", "Bogota"),
    ("Venezuela", "Caracas"), ("Ecuador", "Quito"), ("Peru", "Lima"), ("Chile", "Santiago"),
    ("Argentina", "Buenos Aires"), ("Uruguay", "Montevideo"), ("Paraguay", "Asuncion"), ("Bolivia", "Sucre"),
    ("Brazil", "Brasilia"), ("Costa Rica", "San Jose"), ("Honduras", "Tegucigalpa"), ("Nicaragua", "Managua"),
    ("Sri Lanka", "Sri Jayawardenepura Kotte"), ("Myanmar", "Naypyidaw"), ("Libya", "Tripoli"),
    ("Sudan", "Khartoum"), ("Mali", "Bamako"), ("Cyprus", "Nicosia"), ("Malta", "Valletta"),
    ("Luxembourg", "Luxembourg"), ("Albania", "Tirana"), ("Armenia", "Yerevan"), ("Georgia", "Tbilisi"),
]

ELEMENTS = [
    ("Hydrogen", "H"), ("Helium", "He"), ("Lithium", "Li"), ("Beryllium", "Be"), ("Boron", "B"), ("Carbon", "C"),
    ("Nitrogen", "N"), ("Oxygen", "O"), ("Fluorine", "F"), ("Neon", "Ne"), ("Sodium", "Na"), ("Magnesium", "Mg"),
    ("Aluminium", "Al"), ("Silicon", "Si"), ("Phosphorus", "P"), ("Sulfur", "S"), ("Chlorine", "Cl"),
    ("Argon", "Ar"), ("Potassium", "K"), ("Calcium", "Ca"), ("Scandium", "Sc"), ("Titanium", "Ti"),
    ("Vanadium", "V"), ("Chromium", "Cr"), ("Manganese", "Mn"), ("Iron", "Fe"), ("Cobalt", "Co"),
    ("Nickel", "Ni"), ("Copper", "Cu"), ("Zinc", "Zn"), ("Gallium", "Ga"), ("Germanium", "Ge"),
    ("Arsenic", "As"), ("Selenium", "Se"), ("Bromine", "Br"), ("Krypton", "Kr"), ("Rubidium", "Rb"),
    ("Strontium", "Sr"), ("Yttrium", "Y"), ("Zirconium", "Zr"), ("Niobium", "Nb"), ("Molybdenum", "Mo"),
    ("Technetium", "Tc"), ("Ruthenium", "Ru"), ("Rhodium", "Rh"), ("Palladium", "Pd"), ("Silver", "Ag"),
    ("Cadmium", "Cd"), ("Indium", "In"), ("Tin", "Sn"), ("Antimony", "Sb"), ("Tellurium", "Te"),
    ("Iodine", "I"), ("Xenon", "Xe"), ("Caesium", "Cs"), ("Barium", "Ba"),
]

UNITS = [  # (bigger unit, smaller unit, factor)
    ("meters", "centimeters", 100), ("kilometers", "meters", 1000), ("kilograms", "grams", 1000),
    ("liters", "milliliters", 1000), ("hours", "minutes", 60), ("minutes", "seconds", 60),
    ("days", "hours", 24), ("weeks", "days", 7), ("feet", "inches", 12), ("yards", "feet", 3),
    ("dozens", "items", 12), ("centimeters", "millimeters", 10),
]


def mc(rng: random.Random, question: str, right: str, wrong: list[str]) -> list[str]:
    """A row: the right answer at a seeded position among three distinct distractors."""
    options = rng.sample(sorted(set(wrong) - {right}), 3)
    position = rng.randrange(4)
    options.insert(position, right)
    return [question, *options, LETTERS[position]]


def near_numbers(rng: random.Random, value: int) -> list[str]:
    candidates = {value + d for d in (-10, -2, -1, 1, 2, 10, value // 2 or 3)} | {value * 2}
    return [str(c) for c in sorted(candidates) if c > 0 and c != value]


def geography(rng: random.Random, pairs: list[tuple[str, str]]) -> list[list[str]]:
    capitals = [c for _, c in CAPITALS]
    countries = [c for c, _ in CAPITALS]
    rows = []
    for country, capital in pairs:
        rows.append(mc(rng, f"What is the capital city of {country}?", capital, capitals))
        rows.append(mc(rng, f"{capital} is the capital city of which country?", country, countries))
    return rows


def chemistry(rng: random.Random, elements: list[tuple[str, str]]) -> list[list[str]]:
    symbols = [s for _, s in ELEMENTS]
    names = [n for n, _ in ELEMENTS]
    rows = []
    for name, symbol in elements:
        number = [n for n, _ in ELEMENTS].index(name) + 1
        rows.append(mc(rng, f"What is the chemical symbol of {name.lower()}?", symbol, symbols))
        rows.append(mc(rng, f"Which element has the chemical symbol {symbol}?", name, names))
        rows.append(mc(rng, f"What is the atomic number of {name.lower()}?", str(number), near_numbers(rng, number)))
        rows.append(mc(rng, f"Which element has atomic number {number}?", name, names))
    return rows


def arithmetic(rng: random.Random, count: int, seen: set[str]) -> list[list[str]]:
    rows = []
    while len(rows) < count:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        op = rng.choice("+-x")
        value = a + b if op == "+" else a - b if op == "-" else a * b
        question = f"What is {a} {'times' if op == 'x' else 'plus' if op == '+' else 'minus'} {b}?"
        if question in seen or value <= 0:
            continue
        seen.add(question)
        rows.append(mc(rng, question, str(value), near_numbers(rng, value)))
    return rows


def measurement(rng: random.Random, count: int, seen: set[str]) -> list[list[str]]:
    rows = []
    while len(rows) < count:
        big, small, factor = rng.choice(UNITS)
        n = rng.randint(2, 40)
        question = f"How many {small} are there in {n} {big}?"
        if question in seen:
            continue
        seen.add(question)
        value = n * factor
        wrong = [str(v) for v in {value + factor, value - factor, (n + 1) * factor, n * factor // 10 or 1,
                                  n * factor * 10, n + factor} if v > 0 and v != value]
        rows.append(mc(rng, question, str(value), wrong))
    return rows


def write(rows: list[list[str]], path: Path) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def main() -> None:
    rng = random.Random(13)
    capitals = CAPITALS[:]
    rng.shuffle(capitals)
    elements = ELEMENTS[:]
    rng.shuffle(elements)
    math_seen: set[str] = set()
    units_seen: set[str] = set()
    splits = {
        "test": {"geography": geography(rng, capitals[:90]), "chemistry": chemistry(rng, elements[:45]),
                 "elementary_mathematics": arithmetic(rng, 200, math_seen),
                 "measurement": measurement(rng, 200, units_seen)},
        "train": {"geography": geography(rng, capitals[90:]), "chemistry": chemistry(rng, elements[45:]),
                  "elementary_mathematics": arithmetic(rng, 20, math_seen),
                  "measurement": measurement(rng, 20, units_seen)},
    }
    for split, subjects in splits.items():
        for subject, rows in subjects.items():
            write(rows, HERE / split / f"{subject}_{split}.csv")
            print(f"{split}/{subject}_{split}.csv: {len(rows)} questions")


if __name__ == "__main__":
    main()
