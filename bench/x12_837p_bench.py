"""Write time of the batch 837P file, and how long the two validators take to read it back.

    .venv/bin/python bench/x12_837p_bench.py [--claims 1000] [--no-validate]

The claims are the test suite's (tests/integration/test_837p.py): single, multi-line with
modifiers, dependent, secondary, in turn, each with its own claim number. pyx12 is a dev
requirement (requirements-dev.txt).
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from app.claims.x12_837p import write_837p  # noqa: E402
from tests.integration import test_837p as t  # noqa: E402


def claims(count):
    makers = [t.claim, t.dependent_claim, t.secondary_claim]
    batch = []
    for n in range(count):
        data = makers[n % len(makers)]()
        data.claim_number = f"B{n:08d}"
        batch.append(data)
    return batch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", type=int, default=1000)
    ap.add_argument("--no-validate", action="store_true")
    args = ap.parse_args()
    batch = claims(args.claims)
    start = time.perf_counter()
    text = write_837p(batch, envelope=t.envelope(), control_number=1, created_at=t.CREATED)
    wrote = time.perf_counter() - start
    print(f"{args.claims} claims, {text.count('~')} segments, {len(text) / 1024:.0f} KB: write {wrote * 1000:.0f} ms")
    if args.no_validate:
        return
    start = time.perf_counter()
    ok, ack = t.pyx12_999(text)
    print(f"pyx12 {time.perf_counter() - start:.1f} s, accepted: {ok and 'AK9*A' in ack}")
    start = time.perf_counter()
    t.parse(text, transactions=text.count("~ST*"))
    print(f"x12sdk {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
