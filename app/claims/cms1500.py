"""CMS-1500 (02/12) paper claim as a PDF, from a ClaimData.

The form is 8.5 x 11 in, filled at 10 characters per inch and 6 lines per inch: 66 print
lines of 1/6 in, columns of 1/10 in. Every field sits at a (line, column) of that grid,
as in the NUCC 1500 Claim Form Reference Instruction Manual (02/12), so the "data" print
lines up with a pre-printed red form and the "full" print shows the same data on a drawn
approximation of the form (boxes, numbers and captions in red; English, as on the form).

Filling rules from the manual: capital letters; no periods or other punctuation in names
(commas only separate LAST, FIRST, MIDDLE) or addresses; dates of birth MM DD YYYY, dates of
service MM DD YY; ICD indicator 0 and codes without the dot; diagnosis pointers as letters
A-L without separators; money right-justified in the dollar area with the cents apart, no
dollar sign or commas. Six service lines per form: a claim with more lines continues on
further forms, each complete, and box 28 on each form totals that form's 24F charges
("total of all charges in Item Number 24F").
"""
import re
import unicodedata
from decimal import Decimal

from app.claims import ClaimData
from app.documents.pdf import render_pdf

LINES_PER_FORM = 6
CHAR_W = 0.1  # in: 10 characters per inch
LINE_H = 1 / 6  # in: 6 lines per inch
X0 = 0.25  # in: left edge of column 1


def col_x(col):
    """Left edge (inches) of character column `col` (1-based, may be fractional)."""
    return X0 + (col - 1) * CHAR_W


def line_y(line):
    """Top edge (inches) of print line `line` (1-based)."""
    return (line - 1) * LINE_H


# Box 1: (filing indicator codes, column of the check box)
INSURANCE_TYPES = {
    "medicare": 2, "medicaid": 9, "tricare": 16, "champva": 25, "group": 32, "feca": 40, "other": 46,
}
RELATIONSHIP_COLS = {"18": 33, "01": 38, "19": 42}  # anything else: Other, col 47
RESUBMISSION = {"7", "8"}

# ---------------------------------------------------------------- the drawn form (mode "full")
# Boxes: (left boundary col, top line, right boundary col, bottom line exclusive). A boundary
# col b is the left edge of character cell b, so data starting at col c sits in a box from c-0.5.
_L, _M, _R, _E = 0.5, 29.5, 49.5, 81.5
BOXES = [
    (_L, 7, _R, 9), (_R, 7, _E, 9),  # 1, 1a
    (_L, 9, _M, 11), (_M, 9, _R, 11), (_R, 9, _E, 11),  # 2, 3, 4
    (_L, 11, _M, 13), (_M, 11, _R, 13), (_R, 11, _E, 13),  # 5, 6, 7
    (_L, 13, 25.5, 15), (25.5, 13, _M, 15), (_M, 13, _R, 17), (_R, 13, 73.5, 15), (73.5, 13, _E, 15),
    (_L, 15, 13.5, 17), (13.5, 15, _M, 17), (_R, 15, 63.5, 17), (63.5, 15, _E, 17),
    (_L, 17, _M, 19), (_M, 17, _R, 19), (_R, 17, _E, 19),  # 9, 10, 11
    (_L, 19, _M, 21), (_M, 19, _R, 21), (_R, 19, _E, 21),
    (_L, 21, _M, 23), (_M, 21, _R, 23), (_R, 21, _E, 23),
    (_L, 23, _M, 25), (_M, 23, _R, 25), (_R, 23, _E, 25),
    (_L, 25, _M, 27), (_M, 25, _R, 27), (_R, 25, _E, 27),
    (_L, 27, _R, 31), (_R, 27, _E, 31),  # 12, 13
    (_L, 31, _M, 33), (_M, 31, _R, 33), (_R, 31, _E, 33),  # 14, 15, 16
    (_L, 33, _M, 35), (_M, 33, _R, 34), (_M, 34, _R, 35), (_R, 33, _E, 35),  # 17, 17a, 17b, 18
    (_L, 35, _R, 37), (_R, 35, _E, 37),  # 19, 20
    (_L, 37, _R, 41), (_R, 37, _E, 39), (_R, 39, _E, 41),  # 21, 22, 23
    (_L, 41, _E, 55),  # 24
    (_L, 55, 21.5, 57), (21.5, 55, 36.5, 57), (36.5, 55, 48.5, 57), (48.5, 55, 60.5, 57),
    (60.5, 55, 70.5, 57), (70.5, 55, _E, 57),  # 25 .. 30
    (_L, 57, 21.5, 63), (21.5, 57, 48.5, 63), (48.5, 57, _E, 63),  # 31, 32, 33
    (21.5, 62, 34.5, 63), (34.5, 62, 48.5, 63), (48.5, 62, 60.5, 63), (60.5, 62, _E, 63),  # 32a/b 33a/b
]
# Box 24 columns (boundaries), drawn from line 41 (header) to 55
COLS_24 = [9.5, 18.5, 21.5, 24.5, 30.5, 33.5, 36.5, 39.5, 43.5, 48.5, 57.5, 60.5, 64.5, 66.5, 69.5]
# Captions: (line, col, text, css class)
CAPTIONS = [
    (1, 1, "1500", "logo"),
    (5, 1, "HEALTH INSURANCE CLAIM FORM", "title"),
    (6, 1, "APPROVED BY NATIONAL UNIFORM CLAIM COMMITTEE (NUCC) 02/12", "cap"),
    (7, 1, "1. MEDICARE", "cap"), (7, 8, "MEDICAID", "cap"), (7, 15, "TRICARE", "cap"),
    (7, 24, "CHAMPVA", "cap"), (7, 31, "GROUP HEALTH PLAN", "cap"), (7, 39, "FECA BLK LUNG", "cap"),
    (7, 45, "OTHER", "cap"),
    (8, 3, "(Medicare#)", "cap"), (8, 10, "(Medicaid#)", "cap"), (8, 17, "(ID#/DoD#)", "cap"),
    (8, 26, "(Member ID#)", "cap"), (8, 33, "(ID#)", "cap"), (8, 41, "(ID#)", "cap"), (8, 47, "(ID#)", "cap"),
    (7, 50, "1a. INSURED'S I.D. NUMBER                (For Program in Item 1)", "cap"),
    (9, 1, "2. PATIENT'S NAME (Last Name, First Name, Middle Initial)", "cap"),
    (9, 30, "3. PATIENT'S BIRTH DATE", "cap"), (9, 43, "SEX", "cap"),
    (9.55, 31, "MM", "cap"), (9.55, 34, "DD", "cap"), (9.55, 37.5, "YY", "cap"),
    (10, 42, "M", "cap"), (10, 47, "F", "cap"),
    (9, 50, "4. INSURED'S NAME (Last Name, First Name, Middle Initial)", "cap"),
    (11, 1, "5. PATIENT'S ADDRESS (No., Street)", "cap"),
    (11, 30, "6. PATIENT RELATIONSHIP TO INSURED", "cap"),
    (12, 30, "Self", "cap"), (12, 35.5, "Spouse", "cap"), (12, 39.6, "Child", "cap"), (12, 44, "Other", "cap"),
    (11, 50, "7. INSURED'S ADDRESS (No., Street)", "cap"),
    (13, 1, "CITY", "cap"), (13, 26, "STATE", "cap"), (13, 30, "8. RESERVED FOR NUCC USE", "cap"),
    (13, 50, "CITY", "cap"), (13, 74, "STATE", "cap"),
    (15, 1, "ZIP CODE", "cap"), (15, 14, "TELEPHONE (Include Area Code)", "cap"),
    (15, 50, "ZIP CODE", "cap"), (15, 64, "TELEPHONE (Include Area Code)", "cap"),
    (16, 14.2, "(", "capd"), (16, 18.1, ")", "capd"), (16, 64.2, "(", "capd"), (16, 68.1, ")", "capd"),
    (17, 1, "9. OTHER INSURED'S NAME (Last Name, First Name, Middle Initial)", "cap"),
    (17, 30, "10. IS PATIENT'S CONDITION RELATED TO:", "cap"),
    (17, 50, "11. INSURED'S POLICY GROUP OR FECA NUMBER", "cap"),
    (19, 1, "a. OTHER INSURED'S POLICY OR GROUP NUMBER", "cap"),
    (19, 30, "a. EMPLOYMENT? (Current or Previous)", "cap"),
    (19, 50, "a. INSURED'S DATE OF BIRTH", "cap"), (19, 67, "SEX", "cap"),
    (19.55, 53, "MM", "cap"), (19.55, 56, "DD", "cap"), (19.55, 59.5, "YY", "cap"),
    (20, 67, "M", "cap"), (20, 74, "F", "cap"),
    (21, 1, "b. RESERVED FOR NUCC USE", "cap"), (21, 30, "b. AUTO ACCIDENT?", "cap"),
    (21, 44, "PLACE (State)", "cap"), (21, 50, "b. OTHER CLAIM ID (Designated by NUCC)", "cap"),
    (23, 1, "c. RESERVED FOR NUCC USE", "cap"), (23, 30, "c. OTHER ACCIDENT?", "cap"),
    (23, 50, "c. INSURANCE PLAN NAME OR PROGRAM NAME", "cap"),
    (25, 1, "d. INSURANCE PLAN NAME OR PROGRAM NAME", "cap"),
    (25, 30, "10d. CLAIM CODES (Designated by NUCC)", "cap"),
    (25, 50, "d. IS THERE ANOTHER HEALTH BENEFIT PLAN?", "cap"),
    (26, 53, "YES", "cap"), (26, 58, "NO", "cap"),
    (27, 1, "READ BACK OF FORM BEFORE COMPLETING & SIGNING THIS FORM.", "capb"),
    (28, 1, "12. PATIENT'S OR AUTHORIZED PERSON'S SIGNATURE I authorize the release of any medical or "
     "other information necessary", "cap"),
    (28.6, 1, "to process this claim. I also request payment of government benefits either to myself or "
     "to the party who accepts assignment below.", "cap"),
    (30, 1, "SIGNED", "cap"), (30, 33, "DATE", "cap"),
    (27, 50, "13. INSURED'S OR AUTHORIZED PERSON'S SIGNATURE I authorize", "cap"),
    (27.6, 50, "payment of medical benefits to the undersigned physician or", "cap"),
    (28.2, 50, "supplier for services described below.", "cap"),
    (30, 50, "SIGNED", "cap"),
    (31, 1, "14. DATE OF CURRENT ILLNESS, INJURY, or PREGNANCY (LMP)", "cap"),
    (31, 30, "15. OTHER DATE", "cap"),
    (31, 50, "16. DATES PATIENT UNABLE TO WORK IN CURRENT OCCUPATION", "cap"),
    (33, 1, "17. NAME OF REFERRING PROVIDER OR OTHER SOURCE", "cap"),
    (33, 30, "17a.", "cap"), (34, 30, "17b. NPI", "cap"),
    (33, 50, "18. HOSPITALIZATION DATES RELATED TO CURRENT SERVICES", "cap"),
    (35, 1, "19. ADDITIONAL CLAIM INFORMATION (Designated by NUCC)", "cap"),
    (35, 50, "20. OUTSIDE LAB?", "cap"), (35, 66, "$ CHARGES", "cap"),
    (37, 1, "21. DIAGNOSIS OR NATURE OF ILLNESS OR INJURY Relate A-L to service line below (24E)", "cap"),
    (37, 41.5, "ICD Ind.", "cap"),
    (38, 1, "A.", "cap"), (38, 14, "B.", "cap"), (38, 27, "C.", "cap"), (38, 40, "D.", "cap"),
    (39, 1, "E.", "cap"), (39, 14, "F.", "cap"), (39, 27, "G.", "cap"), (39, 40, "H.", "cap"),
    (40, 1, "I.", "cap"), (40, 14, "J.", "cap"), (40, 27, "K.", "cap"), (40, 40, "L.", "cap"),
    (37, 50, "22. RESUBMISSION CODE", "cap"), (37, 61, "ORIGINAL REF. NO.", "cap"),
    (39, 50, "23. PRIOR AUTHORIZATION NUMBER", "cap"),
    (41, 1, "24. A.  DATE(S) OF SERVICE", "cap"), (41.6, 1, "From", "cap"), (41.6, 10, "To", "cap"),
    (42, 1, "MM   DD   YY", "cap"), (42, 10, "MM   DD   YY", "cap"),
    (41, 19, "B.", "cap"), (41.6, 19, "PLACE OF", "cap"), (42, 19, "SERVICE", "cap"),
    (41, 22, "C.", "cap"), (42, 22, "EMG", "cap"),
    (41, 25, "D. PROCEDURES, SERVICES, OR SUPPLIES", "cap"),
    (41.6, 25, "(Explain Unusual Circumstances)", "cap"),
    (42, 25, "CPT/HCPCS", "cap"), (42, 34, "MODIFIER", "cap"),
    (41, 44, "E.", "cap"), (41.6, 44, "DIAGNOSIS", "cap"), (42, 44, "POINTER", "cap"),
    (41, 49, "F.", "cap"), (42, 49, "$ CHARGES", "cap"),
    (41, 61, "G.", "cap"), (41.6, 61, "DAYS OR", "cap"), (42, 61, "UNITS", "cap"),
    (41, 65, "H.", "cap"), (41.6, 65, "EPSDT", "cap"),
    (41, 67, "I.", "cap"), (41.6, 67, "ID.", "cap"), (42, 67, "QUAL.", "cap"),
    (41, 70, "J.", "cap"), (41.6, 70, "RENDERING", "cap"), (42, 70, "PROVIDER ID. #", "cap"),
    (55, 1, "25. FEDERAL TAX I.D. NUMBER", "cap"), (55, 16, "SSN  EIN", "cap"),
    (55, 22, "26. PATIENT'S ACCOUNT NO.", "cap"), (55, 37, "27. ACCEPT ASSIGNMENT?", "cap"),
    (56, 39, "YES", "cap"), (56, 44, "NO", "cap"),
    (55, 49, "28. TOTAL CHARGE", "cap"), (56, 49, "$", "cap"),
    (55, 61, "29. AMOUNT PAID", "cap"), (56, 61, "$", "cap"),
    (55, 71, "30. Rsvd for NUCC Use", "cap"),
    (57, 1, "31. SIGNATURE OF PHYSICIAN OR SUPPLIER", "cap"),
    (57.6, 1, "INCLUDING DEGREES OR CREDENTIALS", "cap"),
    (58.2, 1, "(I certify that the statements on the reverse", "cap"),
    (58.8, 1, "apply to this bill and are made a part thereof.)", "cap"),
    (62, 1, "SIGNED", "cap"), (62, 10, "DATE", "cap"),
    (57, 22, "32. SERVICE FACILITY LOCATION INFORMATION", "cap"),
    (57, 49, "33. BILLING PROVIDER INFO & PH #", "cap"),
    (57, 66.2, "(", "capd"), (57, 70.1, ")", "capd"),
    (62, 22, "a.", "capa"), (62, 35, "b.", "capa"), (62, 49, "a.", "capa"), (62, 61, "b.", "capa"),
    (63, 1, "NUCC Instruction Manual available at: www.nucc.org", "cap"),
    (63, 33, "PLEASE PRINT OR TYPE", "capb"),
    (63, 56, "APPROVED OMB-0938-1197 FORM 1500 (02-12)", "cap"),
]
# Check boxes drawn in full mode: (line, col)
CHECKBOXES = (
    [(8, c) for c in INSURANCE_TYPES.values()]
    + [(10, 43), (10, 48), (12, 33), (12, 38), (12, 42), (12, 47), (20, 68), (20, 75)]
    + [(20, c) for c in (35, 41)] + [(22, c) for c in (35, 41)] + [(24, c) for c in (35, 41)]
    + [(26, 52), (26, 57), (36, 52), (36, 57), (56, 17), (56, 19), (56, 38), (56, 43)]
)
CHECKBOX_LABELS = [(20, 36, "YES"), (20, 42, "NO"), (22, 36, "YES"), (22, 42, "NO"), (24, 36, "YES"),
                   (24, 42, "NO"), (36, 53, "YES"), (36, 58, "NO")]


# ---------------------------------------------------------------- filling rules
def _ascii_upper(text):
    """Capital letters, accents folded (NUCC: OCR-friendly capitals)."""
    text = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in text if not unicodedata.combining(ch)).upper()


def _clean(text):
    """No punctuation but hyphens (names, addresses): periods, commas, # and the like go."""
    text = re.sub(r"[^\w\s-]", " ", _ascii_upper(text))
    return re.sub(r"\s+", " ", text).strip()


def person_name(party):
    """LAST, FIRST, MIDDLE INITIAL: commas only as separators (NUCC items 2, 4, 9)."""
    if party is None:
        return ""
    parts = [_clean(party.name), _clean(party.given_name)]
    if party.middle_name:
        parts.append(_clean(party.middle_name)[:1])
    return ", ".join(p for p in parts if p)


def full_name(party):
    """First Middle Last for providers (items 17, 31): no punctuation."""
    if party is None:
        return ""
    return _clean(" ".join(p for p in (party.given_name, party.middle_name, party.name) if p))


def digits(text):
    return re.sub(r"\D", "", text or "")


def money(amount):
    """(dollars, cents) strings: no $ and no commas."""
    amount = Decimal(amount).quantize(Decimal("0.01"))
    if amount < 0:
        raise ValueError("Negative amounts cannot be printed on a CMS-1500.")
    dollars, cents = f"{amount:.2f}".split(".")
    return dollars, cents


def units(value):
    value = Decimal(value)
    return str(value.quantize(Decimal(1))) if value == value.to_integral() else format(value.normalize(), "f")


def insurance_type(claim):
    code = (claim.claim_filing_indicator or "").upper()
    if code in ("MA", "MB"):
        return "medicare"
    if code == "MC":
        return "medicaid"
    if code == "CH":
        return "tricare"
    if code == "VA":
        return "champva"
    if code in ("CI", "BL", "HM", "12", "13", "14", "15", "16", "17", "FI", "LM", "OF") and claim.member_group:
        return "group"
    return "other"


class _Page:
    def __init__(self):
        self.fields = []

    def put(self, line, col, text, width=None, right=False):
        """Put `text` at (line, col); `width` characters at most; right-justified ending at col."""
        text = "" if text is None else str(text)
        if width:
            text = text[:width]
        if not text:
            return
        if right:
            col = col - len(text) + 1
        self.fields.append({"x": col_x(col), "y": line_y(line), "text": text})

    def check(self, line, col):
        self.put(line, col, "X")


def _date(page, line, col, value, year_digits):
    if value is None:
        return
    year = f"{value.year:04d}"[-year_digits:]
    page.put(line, col, f"{value.month:02d}")
    page.put(line, col + 3, f"{value.day:02d}")
    page.put(line, col + 6, year)


def _address(page, line, col, party, city_width, state_col, phone_col):
    address = party.address if party else None
    if address:
        street = " ".join(p for p in (address.line1, address.line2) if p)
        page.put(line, col, _clean(street), 28)
        page.put(line + 2, col, _clean(address.city), city_width)
        page.put(line + 2, state_col, _clean(address.state), 3)
        page.put(line + 4, col, digits(address.postal_code), 12)
    phone = digits(party.phone if party else "")
    if len(phone) >= 10:
        phone = phone[-10:]
        page.put(line + 4, phone_col, phone[:3])
        page.put(line + 4, phone_col + 4, phone[3:], 10)


def _provider_block(page, col, party, width):
    """Items 32 and 33: name, street, city state ZIP on lines 58-60."""
    if party is None:
        return
    page.put(58, col, _clean(party.name if not party.given_name else full_name(party)), width)
    address = party.address
    if address:
        page.put(59, col, _clean(" ".join(p for p in (address.line1, address.line2) if p)), width)
        page.put(60, col, " ".join(p for p in (_clean(address.city), _clean(address.state),
                                             digits(address.postal_code)) if p), width)


def _npi(party):
    return party.id if party and (party.id_qualifier or "XX") == "XX" and party.id else ""


def _form(claim, lines, diagnoses):
    p = _Page()
    payer = claim.payer
    # Carrier block (top right, lines 1-4)
    if payer:
        p.put(1, 50, _clean(payer.name), 31)
        if payer.address:
            p.put(2, 50, _clean(payer.address.line1), 31)
            p.put(3, 50, _clean(payer.address.line2), 31)
            p.put(4, 50, " ".join(p_ for p_ in (_clean(payer.address.city), _clean(payer.address.state),
                                                digits(payer.address.postal_code)) if p_), 31)
    sub, pat = claim.subscriber, claim.patient
    p.check(8, INSURANCE_TYPES[insurance_type(claim)])  # 1
    p.put(8, 50, _ascii_upper(sub.id), 29)  # 1a
    p.put(10, 1, person_name(pat), 28)  # 2
    _date(p, 10, 31, pat.birth_date, 4)  # 3
    if pat.sex == "M":
        p.check(10, 43)
    elif pat.sex == "F":
        p.check(10, 48)
    p.put(10, 50, person_name(sub), 29)  # 4
    _address(p, 12, 1, pat, 24, 26, 15)  # 5
    p.check(12, RELATIONSHIP_COLS.get(claim.relationship, 47))  # 6
    _address(p, 12, 50, sub, 23, 74, 65)  # 7
    other = claim.other_payers[0] if claim.other_payers else None
    if other:  # 9, 9a, 9d
        p.put(18, 1, person_name(other.subscriber), 28)
        p.put(20, 1, _ascii_upper(other.member_group or other.subscriber.id or ""), 28)
        p.put(26, 1, _clean(other.payer.name), 28)
    for line in (20, 22, 24):  # 10a-c: no employment / accident information on our claims
        p.check(line, 41)
    p.put(18, 50, _ascii_upper(claim.member_group or ""), 29)  # 11
    _date(p, 20, 53, sub.birth_date, 4)  # 11a
    if sub.sex == "M":
        p.check(20, 68)
    elif sub.sex == "F":
        p.check(20, 75)
    p.put(24, 50, _clean(claim.plan_name or (payer.name if payer else "")), 29)  # 11c
    p.check(26, 52 if other else 57)  # 11d
    signed = claim.signature_date
    p.put(30, 7, "SIGNATURE ON FILE")  # 12
    if signed:
        p.put(30, 38, signed.strftime("%m%d%y"))
    p.put(30, 56, "SIGNATURE ON FILE")  # 13
    ref = claim.referring_provider  # 17, 17b
    if ref:
        p.put(34, 1, "DN")
        p.put(34, 4, person_name(ref), 25)
        p.put(34, 35, _npi(ref), 10)
    p.put(37, 46, "0")  # 21 ICD indicator: ICD-10-CM
    for i, code in enumerate(diagnoses):
        p.put(38 + i // 4, 3 + 13 * (i % 4), _ascii_upper(code).replace(".", ""), 8)
    if claim.frequency in RESUBMISSION:  # 22
        p.put(38, 50, claim.frequency)
        p.put(38, 61, _ascii_upper(claim.payer_claim_control_number or ""), 20)
    p.put(40, 50, _ascii_upper(claim.prior_authorization or ""), 29)  # 23
    total = Decimal("0")
    for row, item in enumerate(lines):  # 24
        line = 44 + 2 * row
        _date(p, line, 1, item.service_date, 2)
        _date(p, line, 10, item.service_date, 2)
        p.put(line, 19, item.place_of_service or claim.place_of_service, 2)
        p.put(line, 25, _ascii_upper(item.code), 5)
        for m, modifier in enumerate(item.modifiers[:4]):
            p.put(line, 31 + 3 * m, _ascii_upper(modifier), 2)
        p.put(line, 44, "".join("ABCDEFGHIJKL"[n - 1] for n in item.pointers[:4]), 4)
        dollars, cents = money(item.charge)
        p.put(line, 56, dollars, 7, right=True)
        p.put(line, 58, cents)
        p.put(line, 61, units(item.units), 4)
        p.put(line, 71, _npi(item.rendering or claim.rendering_provider), 10)
        total += Decimal(item.charge)
    bp = claim.billing_provider
    p.put(56, 1, digits(bp.tax_id), 15)  # 25
    p.check(56, 19)
    p.put(56, 23, _ascii_upper(claim.claim_number), 14)  # 26
    p.check(56, 38)  # 27
    dollars, cents = money(total)  # 28
    p.put(56, 56, dollars, 7, right=True)
    p.put(56, 58, cents)
    paid = sum((o.paid for o in claim.other_payers), Decimal("0"))
    if paid:  # 29
        dollars, cents = money(paid)
        p.put(56, 67, dollars, 6, right=True)
        p.put(56, 69, cents)
    signer = claim.rendering_provider or bp  # 31
    p.put(60, 1, full_name(signer) if signer.given_name else _clean(signer.name), 20)
    p.put(61, 1, "SIGNATURE ON FILE")
    if signed:
        p.put(62, 13, signed.strftime("%m%d%y"))
    _provider_block(p, 23, claim.service_facility, 26)  # 32
    p.put(62, 24, _npi(claim.service_facility), 10)  # 32a
    phone = digits(bp.phone)  # 33
    if len(phone) >= 10:
        phone = phone[-10:]
        p.put(57, 67, phone[:3])
        p.put(57, 71, phone[3:])
    _provider_block(p, 50, bp, 31)
    p.put(62, 51, _npi(bp), 10)  # 33a
    return p, total


def build_pages(claim: ClaimData):
    """The forms of a claim: one per six service lines, each with its own fields and total."""
    if len(claim.diagnoses) > 12:
        raise ValueError("A CMS-1500 holds at most 12 diagnoses (A-L).")
    if any(not 1 <= n <= len(claim.diagnoses) for line in claim.lines for n in line.pointers):
        raise ValueError("A diagnosis pointer points past the claim's diagnoses.")
    chunks = [claim.lines[i:i + LINES_PER_FORM] for i in range(0, len(claim.lines), LINES_PER_FORM)] or [[]]
    pages = []
    for chunk in chunks:
        page, total = _form(claim, chunk, claim.diagnoses)
        pages.append({"fields": page.fields, "total": total})
    return pages


def _drawing():
    """The form's outline as positioned rectangles, captions and check boxes (inches)."""
    rects = [{"x": col_x(b1), "y": line_y(t), "w": (b2 - b1) * CHAR_W, "h": (b - t) * LINE_H}
             for b1, t, b2, b in BOXES]
    for row in range(6):  # 24: shaded supplemental line over each service line
        top = 43 + 2 * row
        rects.append({"x": col_x(_L), "y": line_y(top), "w": (_E - _L) * CHAR_W, "h": LINE_H, "shade": True})
        rects.append({"x": col_x(_L), "y": line_y(top), "w": (_E - _L) * CHAR_W, "h": 2 * LINE_H})
    rules = []
    for c in COLS_24:  # main columns run from the header's top, modifier/cents splits from line 42
        top = 42 if c in (30.5, 33.5, 36.5, 39.5, 57.5) else 41
        rules.append({"x": col_x(c), "y": line_y(top), "h": line_y(55) - line_y(top)})
    for c in (57.5, 68.5):  # cents separators of 28 and 29
        rules.append({"x": col_x(c), "y": line_y(55.6), "h": 1.4 * LINE_H})
    captions = [{"x": col_x(c), "y": line_y(line) + 0.012, "text": t, "cls": cls} for line, c, t, cls in CAPTIONS if t]
    for caption in captions:  # the service-line header is tight: smaller type
        if line_y(41) <= caption["y"] < line_y(43) and caption["cls"] == "cap":
            caption["cls"] = "cap cap24"
    captions += [{"x": col_x(c), "y": line_y(line) + 0.05, "text": t, "cls": "cap"} for line, c, t in CHECKBOX_LABELS]
    boxes = [{"x": col_x(c) + 0.01, "y": line_y(line) + 0.03, "s": CHAR_W - 0.02} for line, c in CHECKBOXES]
    return {"rects": rects, "rules": rules, "captions": captions, "boxes": boxes}


def render_cms1500(claim: ClaimData, *, mode="full", locale=None) -> bytes:
    """The claim on CMS-1500 (02/12) forms as PDF bytes.

    mode "full": the form drawn in red with the data; mode "data": the data alone at the same
    positions, for printing on pre-printed red forms.
    """
    if mode not in ("full", "data"):
        raise ValueError(f"Unknown CMS-1500 mode: {mode!r}")
    pages = build_pages(claim)
    return render_pdf(
        "claims/cms1500.html", locale=locale or "en", title=f"CMS-1500 {claim.claim_number}",
        pages=pages, mode=mode, drawing=_drawing() if mode == "full" else None,
    )
