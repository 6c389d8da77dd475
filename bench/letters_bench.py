"""Render time of one patient letter (HTML + WeasyPrint PDF), per language, and of every letter kind.

    .venv/bin/python bench/letters_bench.py [--per-language 20] [--per-kind 5]

The kinds are rendered with the sample data `flask clinic letters check` uses (letters.SAMPLE_BY_KIND).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app import create_app  # noqa: E402
from app.documents import letters  # noqa: E402


def fake_patient(lang):
    return SimpleNamespace(
        given_name="Ana", family_name="Nguyen", full_name="Ana Nguyen", preferred_name=None, mrn="10000009",
        birth_date=date(1980, 3, 4), address_line1="282 Brown Mount", address_line2=None, city="Springfield",
        state="MA", postal_code="01103", country="US", phone_mobile="+14135550101", phone_home=None,
        preferred_language=lang)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-language", type=int, default=20)
    ap.add_argument("--per-kind", type=int, default=5)
    args = ap.parse_args()
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.join(tempfile.mkdtemp(), "x.db"))
    data = {"test_name": "lipid panel", "result": "abnormal", "note": "", "clinician": "Dr. Ana Ruiz, MD"}
    with app.app_context(), app.test_request_context():
        t0 = time.perf_counter()
        letters.render("results", fake_patient("en"), data, today=date.today())
        print(f"first letter (imports WeasyPrint, loads fonts): {time.perf_counter() - t0:.2f} s")
        print("| language | median ms | p90 ms |")
        print("|---|---|---|")
        for lang in ("en", "es", "fr", "pt", "vi", "zh", "ar", "ru"):
            samples = []
            for _ in range(args.per_language):
                t = time.perf_counter()
                letters.render("results", fake_patient(lang), data, today=date.today())
                samples.append((time.perf_counter() - t) * 1000)
            samples.sort()
            print(f"| {lang} | {statistics.median(samples):.0f} | {samples[int(len(samples) * 0.9) - 1]:.0f} |")
        print()
        print("| letter | en ms | es ms | ar ms | zh ms |")
        print("|---|---|---|---|---|")
        for kind in letters.KINDS:
            cells = []
            for lang in ("en", "es", "ar", "zh"):
                samples = []
                for _ in range(args.per_kind):
                    t = time.perf_counter()
                    letters.render(kind, fake_patient(lang), letters.SAMPLE_BY_KIND.get(kind, {}), today=date.today())
                    samples.append((time.perf_counter() - t) * 1000)
                cells.append(f"{statistics.median(samples):.0f}")
            print(f"| {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
