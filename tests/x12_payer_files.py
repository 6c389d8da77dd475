"""Test-only writers of the files payers send back: 835 remittances, 999 and 277CA acknowledgements.

They write what a clearinghouse would (the envelopes, the required loops of 005010X221A1 /
005010X231A1 / 005010X214) for given claims, so the readers and the screens are tested on
realistic files; pyx12 checks the 835s and 277CAs written here (tests/integration/test_x12_835.py).
`payment_for(claim, ...)` builds the ClaimPayment of a database Claim (or ClaimData) to write.
"""
from datetime import date, datetime
from decimal import Decimal

from app.claims import Adjustment
from app.claims.remit import ClaimPayment, LinePayment

CREATED = datetime(2026, 11, 27, 9, 30)
PAYER_NAME = "BLUE HARBOR HEALTH"
PAYER_ID = "BHH01"
PAYEE_NPI = "1234567893"
PAYEE_TIN = "041234567"


def _money(value):
    d = Decimal(value).quantize(Decimal("0.01"))
    return "0" if d == 0 else format(d.normalize(), "f")


def _qty(value):
    d = Decimal(value)
    return str(int(d)) if d == d.to_integral_value() else format(d.normalize(), "f")


def _join(*elements):
    elements = ["" if e is None else str(e) for e in elements]
    while len(elements) > 1 and elements[-1] == "":
        elements.pop()
    return "*".join(elements)


def _envelope(functional_id, st_segments_list, *, control, version, sender="CLEARHOUSE", receiver="CLINICDESK01",
              created=CREATED):
    """ISA/GS .. GE/IEA around transaction sets (each a list of segments without SE: SE is added)."""
    isa = _join("ISA", "00", " " * 10, "00", " " * 10, "ZZ", sender.ljust(15), "ZZ", receiver.ljust(15),
                created.strftime("%y%m%d"), created.strftime("%H%M"), "^", "00501", f"{control:09d}", "0", "T", ":")
    out = [isa, _join("GS", functional_id, sender, receiver, created.strftime("%Y%m%d"), created.strftime("%H%M"),
                      control, "X", version)]
    for number, segments in enumerate(st_segments_list, start=1):
        st_control = f"{number:04d}"
        segments = [segments[0].replace("{ST}", st_control, 1)] + segments[1:]
        out += segments
        out.append(_join("SE", len(segments) + 1, st_control))
    out.append(_join("GE", len(st_segments_list), control))
    out.append(_join("IEA", 1, f"{control:09d}"))
    return "~\n".join(out) + "~\n"


# --------------------------------------------------------------------------- 835

def payment_for(claim, *, paid=None, patient_responsibility=Decimal("0"), status="1", contractual=None,
                control_number="PCN", remarks=(), line_remarks=()):
    """A ClaimPayment of `claim` (a Claim row): every line paid `paid` share, the rest CO-45 (contractual)
    and PR-2 (coinsurance = patient_responsibility, on the first line). Balanced like a payer's."""
    lines = list(claim.lines)
    total = Decimal(claim.total_charge)
    paid = total if paid is None else Decimal(paid)
    patient_responsibility = Decimal(patient_responsibility)
    payment = ClaimPayment(claim_number=claim.claim_number, status_code=status, charge=total, paid=paid,
                           patient_responsibility=patient_responsibility,
                           payer_claim_control_number=f"{control_number}{claim.claim_number}", remarks=list(remarks))
    left_paid, left_pr = paid, patient_responsibility
    for index, line in enumerate(lines):
        charge = Decimal(line.charge)
        last = index == len(lines) - 1
        line_paid = left_paid if last else min(charge, (paid * charge / total).quantize(Decimal("0.01")))
        line_pr = left_pr if index == 0 else Decimal(0)
        left_paid -= line_paid
        left_pr -= line_pr
        adjustments = []
        co = charge - line_paid - line_pr
        if co:
            adjustments.append(Adjustment("CO", "45" if status != "4" else "50", co))
        if line_pr:
            adjustments.append(Adjustment("PR", "2", line_pr))
        payment.lines.append(LinePayment(
            code=line.code, modifiers=list(line.modifiers), charge=charge, paid=line_paid, units=Decimal(line.units),
            service_date=line.service_date, line_number=line.line_number,
            allowed=line_paid + line_pr, adjustments=adjustments, remarks=list(line_remarks)))
    return payment


def _cas(segments, adjustments):
    by_group = {}
    for adj in adjustments:
        by_group.setdefault(adj.group, []).append(adj)
    for group, items in by_group.items():
        for start in range(0, len(items), 6):
            elements = ["CAS", group]
            for adj in items[start:start + 6]:
                elements += [adj.reason, _money(adj.amount), _qty(adj.quantity) if adj.quantity is not None else ""]
            segments.append(_join(*elements))


def _claim_segments(payment, patient=("NGUYEN", "ANH", "XYZ123456789")):
    segs = [_join("CLP", payment.claim_number, payment.status_code, _money(payment.charge), _money(payment.paid),
                  _money(payment.patient_responsibility) if payment.patient_responsibility else "", "12",
                  payment.payer_claim_control_number, "11", "1")]
    _cas(segs, payment.adjustments)
    family, given, member = patient
    segs.append(_join("NM1", "QC", "1", family, given, "", "", "", "MI", member))
    if payment.remarks:
        segs.append(_join("MOA", "", "", *payment.remarks[:5]))
    dates = [ln.service_date for ln in payment.lines if ln.service_date]
    if dates:
        segs.append(_join("DTM", "232", min(dates).strftime("%Y%m%d")))
    for line in payment.lines:
        procedure = ":".join(["HC", line.code] + list(line.modifiers[:4]))
        segs.append(_join("SVC", procedure, _money(line.charge), _money(line.paid), "",
                          _qty(line.units) if line.units is not None and line.units != 1 else ""))
        if line.service_date:
            segs.append(_join("DTM", "472", line.service_date.strftime("%Y%m%d")))
        _cas(segs, line.adjustments)
        if line.line_number is not None:
            segs.append(_join("REF", "6R", line.line_number))
        if line.allowed is not None:
            segs.append(_join("AMT", "B6", _money(line.allowed)))
        for remark in line.remarks:
            segs.append(_join("LQ", "HE", remark))
    return segs


def write_835(payments, *, control=501, **kw):
    """An 835 interchange paying `payments` (ClaimPayment list) in one transaction set.

    provider_adjustments: [(reason, amount)] or [(reason, amount, reference)] written as one PLB (fiscal period
    Dec 31 of the payment's year; amount taken from the payment; reference REF<reason> when not given).
    amount: BPR02 (default: the balance the guide requires)."""
    return _envelope("HP", [_835_set(payments, **kw)], control=control, version="005010X221A1")


def write_835_sets(*sets, control=502):
    """One 835 interchange with several payments (transaction sets): each argument is (payments, keywords)."""
    return _envelope("HP", [_835_set(payments, **kw) for payments, kw in sets], control=control,
                     version="005010X221A1")


def _835_set(payments, *, reference="EFT20261127001", method="ACH", paid_date=date(2026, 11, 27),
             payer_name=PAYER_NAME, payer_id=PAYER_ID, provider_adjustments=(), amount=None, patients=None):
    total = sum((p.paid for p in payments), Decimal(0)) - sum((Decimal(a[1]) for a in provider_adjustments),
                                                              Decimal(0))
    amount = total if amount is None else Decimal(amount)
    day = paid_date.strftime("%Y%m%d")
    if method == "ACH":
        bpr = _join("BPR", "I", _money(amount), "C", "ACH", "CCP", "01", "011000015", "DA", "123456789",
                    "1512345678", "", "01", "011000028", "DA", "987654321", day)
    else:
        bpr = _join("BPR", "I" if amount else "H", _money(amount), "C", method, "", "", "", "", "", "", "", "", "",
                    "", "", day)
    segs = [_join("ST", "835", "{ST}"), bpr, _join("TRN", "1", reference, "1512345678"),
            _join("DTM", "405", day),
            _join("N1", "PR", payer_name), _join("N3", "PO BOX 1000"), _join("N4", "BOSTON", "MA", "02101"),
            _join("REF", "2U", payer_id),
            _join("PER", "BL", "EDI SUPPORT", "TE", "8005551234"),
            _join("N1", "PE", "RIVERSIDE FAMILY PRACTICE", "XX", PAYEE_NPI), _join("N3", "100 MAIN STREET"),
            _join("N4", "BOSTON", "MA", "02108"), _join("REF", "TJ", PAYEE_TIN)]
    if payments:
        segs.append(_join("LX", "1"))
        for index, payment in enumerate(payments):
            patient = (patients or {}).get(payment.claim_number, ("NGUYEN", "ANH", f"XYZ12345678{index}"))
            segs += _claim_segments(payment, patient)
    if provider_adjustments:
        elements = ["PLB", PAYEE_NPI, f"{paid_date.year}1231"]
        for reason, value, *reference in provider_adjustments:
            elements += [f"{reason}:{reference[0] if reference else 'REF' + reason}", _money(value)]
        segs.append(_join(*elements))
    return segs


# --------------------------------------------------------------------------- 999

def write_999(group_control_number, *, accepted=True, errors=(), sets=1, control=601):
    """A 999 answering our 837P group `group_control_number`; errors [(segment, position, loop, code,
    element position, element ref, element code)] make its (first) set rejected."""
    segs = [_join("ST", "999", "{ST}", "005010X231A1"), _join("AK1", "HC", group_control_number, "005010X222A1")]
    for number in range(1, sets + 1):
        segs.append(_join("AK2", "837", f"{number:04d}", "005010X222A1"))
        if number == 1 and not accepted:
            for seg_id, position, loop, code, element, ref, element_code in errors:
                segs.append(_join("IK3", seg_id, position, loop, code))
                if element:
                    segs.append(_join("IK4", element, ref, element_code))
            segs.append(_join("IK5", "R", "5"))
        else:
            segs.append(_join("IK5", "A"))
    verdict = "A" if accepted else "R" if sets == 1 else "P"
    received = sets if accepted else sets - 1
    segs.append(_join("AK9", verdict, sets, sets, received))
    return _envelope("FA", [segs], control=control, version="005010X231A1")


# --------------------------------------------------------------------------- 277CA

def write_277ca(interchange_control_number, claims, *, control=701, received=date(2026, 11, 26)):
    """A 277CA for claims of our file `interchange_control_number`.

    claims: [(claim_number, total_charge, status composite like "A2:20:PR" or a list of them,
    payer claim control number or None, patient (family, given, member id))]."""
    day = received.strftime("%Y%m%d")
    accepted = [c for c in claims if _category(c[2]) in ("A1", "A2", "A5")]
    rejected = [c for c in claims if c not in accepted]
    segs = [_join("ST", "277", "{ST}", "005010X214"),
            _join("BHT", "0085", "08", f"R{control}", day, "1200", "TH"),
            _join("HL", "1", "", "20", "1"),
            _join("NM1", "PR", "2", PAYER_NAME, "", "", "", "", "PI", PAYER_ID),
            _join("TRN", "1", f"T{control}"), _join("DTP", "050", "D8", day), _join("DTP", "009", "D8", day),
            _join("HL", "2", "1", "21", "1"),
            _join("NM1", "41", "2", "RIVERSIDE FAMILY PRACTICE", "", "", "", "", "46", "SUB12345"),
            _join("TRN", "2", f"{interchange_control_number}-1"),
            _join("STC", "A1:19:PR", day, "WQ", _money(sum((Decimal(c[1]) for c in claims), Decimal(0)))),
            _join("QTY", "90", len(accepted)) if accepted else None,
            _join("QTY", "AA", len(rejected)) if rejected else None,
            _join("AMT", "YU", _money(sum((Decimal(c[1]) for c in accepted), Decimal(0)))) if accepted else None,
            _join("AMT", "YY", _money(sum((Decimal(c[1]) for c in rejected), Decimal(0)))) if rejected else None,
            _join("HL", "3", "2", "19", "1"),
            _join("NM1", "85", "2", "RIVERSIDE FAMILY PRACTICE", "", "", "", "", "XX", PAYEE_NPI),
            _join("TRN", "1", "0"),
            _join("STC", "A1:19:85", "", "WQ", _money(sum((Decimal(c[1]) for c in claims), Decimal(0)))),
            _join("REF", "TJ", PAYEE_TIN),
            _join("QTY", "QA", len(accepted)) if accepted else None,
            _join("QTY", "QC", len(rejected)) if rejected else None,
            _join("AMT", "YU", _money(sum((Decimal(c[1]) for c in accepted), Decimal(0)))) if accepted else None,
            _join("AMT", "YY", _money(sum((Decimal(c[1]) for c in rejected), Decimal(0)))) if rejected else None]
    segs = [s for s in segs if s]
    hl = 3
    for claim_number, charge, status, control_number, patient in claims:
        hl += 1
        family, given, member = patient
        segs += [_join("HL", hl, "3", "PT"),
                 _join("NM1", "QC", "1", family, given, "", "", "", "MI", member),
                 _join("TRN", "2", claim_number)]
        for composite in ([status] if isinstance(status, str) else status):
            segs.append(_join("STC", composite, day, "WQ" if _category(composite) in ("A1", "A2", "A5") else "U",
                              _money(charge)))
        if control_number:
            segs.append(_join("REF", "1K", control_number))
        segs.append(_join("DTP", "472", "D8", "20261120"))
    return _envelope("HN", [segs], control=control, version="005010X214")


def _category(status):
    first = status if isinstance(status, str) else status[0]
    return first.split(":")[0]
