"""CMS-1500 (02/12) PDF: what a payer reads on the form, where the NUCC grid puts it."""
import re
import subprocess
from datetime import date
from decimal import Decimal

import pytest

from app.claims import Address, ClaimData, ClaimLine, OtherPayer, Party
from app.claims.cms1500 import X0, render_cms1500

PT = 72  # points per inch


def make_claim(n_lines=3, **overrides):
    clinic = Address("100 N. Main St., #200", "Springfield", "IL", "627010000")
    rendering = Party("Ruiz", given_name="Ana", middle_name="Maria", id_qualifier="XX", id="1234567893")
    codes = [("99214", ["25"]), ("93000", []), ("36415", ["59", "XU", "76", "GT"]), ("81002", ["QW"]),
             ("90471", []), ("90686", []), ("87880", ["QW"]), ("82947", [])]
    lines = [
        ClaimLine(number=i + 1, code=codes[i][0], modifiers=codes[i][1], units=Decimal(1 + (i == 1)),
                  charge=Decimal("150.00") + Decimal(i) * Decimal("10.25"), service_date=date(2026, 11, 20),
                  place_of_service="11", pointers=[1, 3] if i == 0 else [2, 1, 4])
        for i in range(n_lines)
    ]
    values = dict(
        claim_number="CLM000123",
        frequency="1",
        payer_claim_control_number=None,
        total_charge=sum((l.charge for l in lines), Decimal("0")),
        place_of_service="11",
        billing_provider=Party("Springfield Family Clinic", address=clinic, id_qualifier="XX", id="1881234567",
                               tax_id="12-3456789", phone="(217) 555-0100"),
        pay_to=None,
        subscriber=Party("O'Brien-Smith", given_name="José", middle_name="Luis", id_qualifier="MI", id="XYZ987654321",
                         birth_date=date(1980, 4, 9), sex="M",
                         address=Address("12 Oak Ave. Apt. 4", "Springfield", "IL", "62702"), phone="217-555-0199"),
        relationship="18",
        patient=None,
        payer=Party("Acme Health Plan", address=Address("PO Box 1000", "Chicago", "IL", "60601"),
                    id_qualifier="PI", id="ACME1"),
        claim_filing_indicator="CI",
        payer_responsibility="P",
        member_group="GRP-5500",
        plan_name="Acme PPO Gold",
        rendering_provider=rendering,
        service_facility=Party("Springfield Clinic East", address=clinic, id_qualifier="XX", id="1699999999"),
        diagnoses=["E119", "I10", "Z0000", "R0789", "J069"],
        lines=lines,
        prior_authorization="AUTH77",
        signature_date=date(2026, 11, 21),
        referring_provider=Party("Lee", given_name="Grace", id_qualifier="XX", id="1555555555"),
    )
    values.update(overrides)
    if values["patient"] is None:
        values["patient"] = values["subscriber"]
    return ClaimData(**values)


def pdf_text(data, tmp_path, *args):
    path = tmp_path / "form.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", *args, str(path), "-"], capture_output=True, text=True, check=True).stdout


def words(data, tmp_path):
    """[(page, xMin, yMin, word)] of the printed data, from pdftotext -bbox (points from the page's top
    left). The data is 12 pt type: the form's captions (smaller, or the big "1500") are left out."""
    html = pdf_text(data, tmp_path, "-bbox")
    found = []
    for number, page in enumerate(html.split("<page ")[1:], start=1):
        for x, y, y2, word in re.findall(
                r'<word xMin="([\d.]+)" yMin="(-?[\d.]+)" xMax="[\d.]+" yMax="(-?[\d.]+)">([^<]*)</word>', page):
            if 9 < float(y2) - float(y) < 16:
                found.append((number, float(x), float(y), word.replace("&apos;", "'").replace("&amp;", "&")))
    return found


def form_lines(data, tmp_path):
    """{page: {print line: its data words, left to right}} on the 6-lines-per-inch grid."""
    pages = {}
    for page, x, y, word in sorted(words(data, tmp_path), key=lambda w: (w[0], w[2], w[1])):
        line = int((y + 6.8) // 12) + 1  # the word's middle falls in its 12 pt line
        pages.setdefault(page, {}).setdefault(line, []).append((x, word))
    return {p: {n: " ".join(w for _, w in sorted(ws)) for n, ws in lines.items()} for p, lines in pages.items()}


def where(found, word, page=1):
    hits = [(x, y) for p, x, y, w in found if w == word and p == page]
    assert hits, (word, page)
    return hits[0]


def grid(col, line):
    """Where the NUCC grid puts (col, line), in points: 10 characters and 6 lines per inch."""
    return (X0 + (col - 1) / 10) * PT, (line - 1) / 6 * PT


@pytest.mark.parametrize("mode", ["full", "data"])
def test_form_shows_the_claim(app, tmp_path, mode):
    claim = make_claim()
    lines = form_lines(render_cms1500(claim, mode=mode), tmp_path)[1]
    assert lines[1] == "ACME HEALTH PLAN"  # carrier block
    # 1 group health plan, 1a insured's id
    assert lines[8] == "X XYZ987654321"
    # 2, 3, 4: capitals, commas only between name parts, accents folded, no periods; birth date MM DD YYYY
    assert lines[10] == "O BRIEN-SMITH, JOSE, L 04 09 1980 X O BRIEN-SMITH, JOSE, L"
    assert lines[12] == "12 OAK AVE APT 4 X 12 OAK AVE APT 4"  # 5, 6 self, 7
    assert lines[16] == "62702 217 5550199 62702 217 5550199"
    assert lines[18] == "GRP-5500" and lines[26] == "X"  # 11, 11d no other plan
    assert lines[24] == "X ACME PPO GOLD"  # 10c no, 11c
    assert lines[30] == "SIGNATURE ON FILE 112126 SIGNATURE ON FILE"  # 12, 13
    assert lines[34] == "DN LEE, GRACE 1555555555"  # 17, 17b
    # 21: ICD indicator 0 and the codes A..E without dots; 23 prior authorization
    assert lines[37] == "0"
    assert lines[38] == "E119 I10 Z0000 R0789" and lines[39] == "J069"
    assert lines[40] == "AUTH77"
    # 24: dates, POS, code with modifiers, pointers as letters, charge split, units, rendering NPI
    assert lines[44] == "11 20 26 11 20 26 11 99214 25 AC 150 00 1 1234567893"
    assert lines[46] == "11 20 26 11 20 26 11 93000 BAD 160 25 2 1234567893"
    assert lines[48] == "11 20 26 11 20 26 11 36415 59 XU 76 GT BAD 170 50 1 1234567893"
    assert 50 not in lines
    # 25 EIN without hyphen + EIN box, 26 account, 27 yes, 28 = sum of 24F
    assert lines[56] == "123456789 X CLM000123 X 480 75"
    assert sum(l.charge for l in claim.lines) == Decimal("480.75")
    # 31, 32/32a, 33/33a with phone
    assert lines[57] == "217 5550100"
    assert lines[58] == "SPRINGFIELD CLINIC EAST SPRINGFIELD FAMILY CLINIC"
    assert lines[59] == "100 N MAIN ST 200 100 N MAIN ST 200"
    assert lines[60] == "ANA MARIA RUIZ SPRINGFIELD IL 627010000 SPRINGFIELD IL 627010000"
    assert lines[62] == "112126 1699999999 1881234567"


def test_resubmission_code_and_original_reference(app, tmp_path):
    data = render_cms1500(make_claim(frequency="7", payer_claim_control_number="PCN-44556677"), mode="data")
    found = words(data, tmp_path)
    code_x, code_y = where(found, "7")
    ref_x, ref_y = where(found, "PCN-44556677")
    assert abs(code_x - grid(50, 38)[0]) < 2 and abs(ref_x - grid(61, 38)[0]) < 2
    assert abs(code_y - ref_y) < 1  # same line of item 22
    original = pdf_text(render_cms1500(make_claim(), mode="data"), tmp_path, "-layout")
    assert "PCN" not in original


def test_data_mode_has_no_drawing_full_mode_has_the_captions(app, tmp_path):
    claim = make_claim()
    full = pdf_text(render_cms1500(claim, mode="full"), tmp_path)
    data = pdf_text(render_cms1500(claim, mode="data"), tmp_path)
    for caption in ("PATIENT'S NAME", "INSURED'S I.D. NUMBER", "HEALTH INSURANCE CLAIM FORM", "TOTAL CHARGE",
                    "FEDERAL TAX I.D. NUMBER", "RESUBMISSION"):
        assert caption in full and caption not in data, caption
    assert "O BRIEN-SMITH" in data and "O BRIEN-SMITH" in full
    # the form is the English form whatever the staff's language
    assert "PATIENT'S NAME" in pdf_text(render_cms1500(claim, mode="full", locale="es"), tmp_path)


@pytest.mark.parametrize("word, col, line", [
    ("XYZ987654321", 50, 8),  # 1a
    ("O", 1, 10),  # 2
    ("E119", 3, 38), ("J069", 3, 39),  # 21 A and E
    ("99214", 25, 44), ("AC", 44, 44),  # 24D, 24E of the first line
    ("CLM000123", 23, 56),  # 26
    ("1881234567", 51, 62),  # 33a
])
def test_fields_sit_on_the_nucc_grid_in_both_modes(app, tmp_path, word, col, line):
    claim = make_claim()
    x, y = grid(col, line)
    for mode in ("full", "data"):
        wx, wy = where(words(render_cms1500(claim, mode=mode), tmp_path), word)
        assert abs(wx - x) < 2, (mode, word, wx, x)
        assert -1.5 <= wy - y < 10, (mode, word, wy, y)  # glyph box top at its 1/6 in print line


def test_money_is_right_justified_in_the_dollar_area(app, tmp_path):
    claim = make_claim(n_lines=1)
    claim.lines[0].charge = Decimal("1234.56")
    found = words(render_cms1500(claim, mode="data"), tmp_path)
    dollars_x, _ = where(found, "1234")
    cents_x, _ = where(found, "56")
    assert abs(dollars_x - grid(53, 0)[0]) < 2  # "1234" ends in column 56
    assert abs(cents_x - grid(58, 0)[0]) < 2


def test_eight_lines_give_two_forms_each_totalling_its_own_lines(app, tmp_path):
    claim = make_claim(n_lines=8)
    full = render_cms1500(claim, mode="full")
    pages = form_lines(full, tmp_path)
    assert sorted(pages) == [1, 2]
    first, second = pages[1], pages[2]
    assert [first[n].split()[7] for n in range(44, 55, 2)] == ["99214", "93000", "36415", "81002", "90471", "90686"]
    assert [second[n].split()[7] for n in (44, 46)] == ["87880", "82947"] and 48 not in second
    # 28 per form = the total of that form's 24F (NUCC item 28); both forms add up to the claim
    assert first[56].endswith("CLM000123 X 1053 75") and second[56].endswith("CLM000123 X 433 25")
    assert Decimal("1053.75") + Decimal("433.25") == claim.total_charge == Decimal("1487.00")
    # every form is complete: patient, insured, diagnoses, billing provider
    for lines in (first, second):
        assert lines[8] == "X XYZ987654321" and lines[38] == "E119 I10 Z0000 R0789"
        assert lines[62] == "112126 1699999999 1881234567"
    text = pdf_text(full, tmp_path)
    assert "Page 1 of 2" in text and "Page 2 of 2" in text
    data = render_cms1500(claim, mode="data")
    assert sorted(form_lines(data, tmp_path)) == [1, 2] and "Page" not in pdf_text(data, tmp_path)


def test_secondary_claim_fills_other_insured(app, tmp_path):
    spouse = Party("Smith", given_name="Mary", id="OTH123")
    other = OtherPayer(payer=Party("Blue Plan"), subscriber=spouse, relationship="01", claim_filing_indicator="BL",
                       member_group="G77", paid=Decimal("80.00"))
    lines = form_lines(render_cms1500(make_claim(other_payers=[other]), mode="data"), tmp_path)[1]
    assert lines[18] == "SMITH, MARY GRP-5500"  # 9 other insured, 11
    assert lines[20].startswith("G77 X 04 09 1980")  # 9a, 10a no, 11a
    assert lines[26] == "BLUE PLAN X"  # 9d, 11d yes
    assert lines[56].endswith("480 75 80 00")  # 28 then 29 amount paid


def test_unprintable_claims_are_refused(app):
    with pytest.raises(ValueError):
        render_cms1500(make_claim(diagnoses=[f"R{n:03d}" for n in range(13)]))
    with pytest.raises(ValueError):
        render_cms1500(make_claim(), mode="draft")
    claim = make_claim()
    claim.lines[0].pointers = [1, 6]  # only five diagnoses (A-E)
    with pytest.raises(ValueError):
        render_cms1500(claim)


def red_pixels(data, tmp_path, name):
    from PIL import Image

    (tmp_path / f"{name}.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", "-singlefile",
                    str(tmp_path / f"{name}.pdf"), str(tmp_path / name)], check=True)
    image = Image.open(tmp_path / f"{name}.png").convert("RGB")
    raw = image.tobytes()
    return sum(1 for i in range(0, len(raw), 3) if raw[i] > raw[i + 1] + 60 and raw[i] > raw[i + 2] + 60)


def test_full_form_is_drawn_in_red_data_print_has_no_ink_but_the_data(app, tmp_path):
    claim = make_claim()
    assert red_pixels(render_cms1500(claim, mode="full"), tmp_path, "full") > 1000
    assert red_pixels(render_cms1500(claim, mode="data"), tmp_path, "data") == 0
