"""Reading 835 remittances (app/claims/x12_835.py): every file written here is first checked by pyx12
against the 005010X221A1 map (its 999 must say AK9*A), then read, and what is read is compared with
what was written: BPR/TRN, the payer (N1*PR, REF*2U), CLP, claim- and line-level CAS with several
reason triplets, NM1*QC, MOA remarks, SVC composite with modifiers, DTM*472, REF*6R, AMT*B6, LQ*HE
and PLB. Malformed files are refused with a message naming the segment. No database needed."""
import io
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from app.claims import Adjustment
from app.claims.remit import ClaimPayment, LinePayment
from app.claims.x12_835 import read_835
from app.services.errors import ValidationFailed
from tests.x12_payer_files import payment_for, write_835, write_835_sets, write_999

D = Decimal
DOS = date(2026, 11, 20)


def pyx12_999(text, monkeypatch):
    """pyx12's 999 for `text`. pyx12 3.x builds AK2 from ST03, which the 835 guide marks "Not Used";
    for this check only, AK2 falls back to the group's GS08 (the same version identifier)."""
    import pyx12.error_handler
    import pyx12.params
    import pyx12.x12n_document

    original = pyx12.error_handler.err_st.__init__

    def init(self, parent, seg_data, src):
        original(self, parent, seg_data, src)
        self.vriic = self.vriic or parent.vriic

    monkeypatch.setattr(pyx12.error_handler.err_st, "__init__", init)
    ack = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), ack, None)
    return ok, ack.getvalue()


def assert_valid(text, monkeypatch, sets=1):
    ok, ack = pyx12_999(text, monkeypatch)
    assert f"AK9*A*{sets}*{sets}*{sets}~" in ack, ack
    assert "IK3" not in ack and "IK4" not in ack, ack
    assert ok, ack
    return text


def line(number, code, charge, modifiers=(), units="1"):
    return SimpleNamespace(line_number=number, code=code, charge=D(charge), modifiers=list(modifiers),
                           units=D(units), service_date=DOS)


def claim(number, *lines):
    return SimpleNamespace(claim_number=number, total_charge=sum((ln.charge for ln in lines), D(0)),
                           lines=list(lines))


def messages(exc):
    return [str(m) for _, m in exc.value.problems]


# --------------------------------------------------------------------------- reading

def test_a_two_claim_835_with_provider_adjustment_validates_and_reads_back(monkeypatch):
    first = claim("C00000011", line(1, "99214", "180.00", ["25"]), line(2, "87880", "35.50", ["QW"], units="2"))
    paid = payment_for(first, paid="150.00", patient_responsibility="30.00", remarks=["MA01", "N130"],
                       line_remarks=["M15"])
    # several reasons on one line: CO-45 and CO-253 and OA-23 (three triplets, one CAS per group)
    paid.lines[1].adjustments = [Adjustment("CO", "45", D("3.40")), Adjustment("CO", "253", D("0.50")),
                                 Adjustment("OA", "23", D("0.00"))]
    paid.lines[1].paid = D("31.60")
    paid.lines[0].paid = D("118.40")
    paid.lines[0].adjustments = [Adjustment("CO", "45", D("31.60")), Adjustment("PR", "2", D("30.00"))]
    paid.lines[0].allowed, paid.lines[1].allowed = D("148.40"), D("31.60")
    denied = ClaimPayment(claim_number="C00000012", status_code="4", charge=D("100"), paid=D("0"),
                          patient_responsibility=D("0"), payer_claim_control_number="ICN12",
                          adjustments=[Adjustment("CO", "50", D("100"))], remarks=["N386"])
    text = assert_valid(write_835([paid, denied], provider_adjustments=[("WO", "12.25"), ("L6", "-2.25")],
                                  reference="EFT777"), monkeypatch)
    (r,) = read_835(text)
    assert (r.payer_name, r.payer_identifier, r.method, r.reference, r.paid_date, r.amount, r.source) == (
        "BLUE HARBOR HEALTH", "BHH01", "eft", "EFT777", date(2026, 11, 27), D("140.00"), "835")
    assert [(a.group, a.reason, a.amount) for a in r.provider_adjustments] == [
        ("PLB", "WO", D("12.25")), ("PLB", "L6", D("-2.25"))]
    one, two = r.claims
    assert (one.claim_number, one.status_code, one.charge, one.paid, one.patient_responsibility,
            one.payer_claim_control_number, one.remarks) == (
        "C00000011", "1", D("215.50"), D("150.00"), D("30.00"), "PCNC00000011", ["MA01", "N130"])
    assert [(ln.code, ln.modifiers, ln.charge, ln.paid, ln.units, ln.service_date, ln.line_number, ln.allowed,
             ln.remarks) for ln in one.lines] == [
        ("99214", ["25"], D("180.00"), D("118.40"), D("1"), DOS, 1, D("148.40"), ["M15"]),
        ("87880", ["QW"], D("35.50"), D("31.60"), D("2"), DOS, 2, D("31.60"), ["M15"])]
    assert [(a.group, a.reason, a.amount) for a in one.lines[1].adjustments] == [
        ("CO", "45", D("3.40")), ("CO", "253", D("0.50")), ("OA", "23", D("0.00"))]
    assert (two.status_code, two.paid, two.patient_responsibility, two.remarks, two.lines) == (
        "4", D("0.00"), D("0.00"), ["N386"], [])
    assert [(a.group, a.reason, a.amount) for a in two.adjustments] == [("CO", "50", D("100.00"))]


def test_x12sdk_reads_the_same_payments_from_our_test_835(monkeypatch):
    """An independent reader (x12sdk's typed 835 model) agrees on the claims and amounts."""
    from x12sdk.io import X12ModelReader

    payment = payment_for(claim("C00000021", line(1, "99213", "125.00")), paid="100.00",
                          patient_responsibility="25.00")
    text = assert_valid(write_835([payment], reference="CHK42", method="CHK"), monkeypatch)
    with X12ModelReader(text) as reader:
        (model,) = list(reader.models())
    (lx,) = model.loop_2000
    (clp_loop,) = lx.loop_2100
    assert clp_loop.clp_segment.patient_control_number == "C00000021"
    assert D(str(clp_loop.clp_segment.claim_payment_amount)) == D("100")
    (r,) = read_835(text)
    assert (r.method, r.reference, r.amount, r.claims[0].paid) == ("check", "CHK42", D("100.00"), D("100.00"))


def test_other_delimiters_declared_by_the_isa_are_honoured():
    payment = payment_for(claim("C00000031", line(1, "99213", "125.00", ["25", "59"])), paid="125.00")
    text = write_835([payment])
    isa, rest = text.split("~", 1)
    other = isa.replace("*", "|")[:-1] + ">" + "!" + rest.replace("*", "|").replace(":", ">").replace("~\n", "!")
    assert other[3] == "|" and other[104] == ">" and other[105] == "!"
    (r,) = read_835(other)
    assert r.claims[0].lines[0].modifiers == ["25", "59"] and r.claims[0].paid == D("125.00")


def test_check_payment_without_lines_reads_claim_level_adjustments():
    payment = ClaimPayment(claim_number="C00000041", status_code="1", charge=D("100"), paid=D("70"),
                           patient_responsibility=D("10"), payer_claim_control_number="X1",
                           adjustments=[Adjustment("CO", "45", D("20")), Adjustment("PR", "3", D("10"))])
    (r,) = read_835(write_835([payment], method="CHK", reference="100234"))
    assert r.method == "check" and r.claims[0].lines == []
    assert [(a.group, a.reason, a.amount) for a in r.claims[0].adjustments] == [
        ("CO", "45", D("20.00")), ("PR", "3", D("10.00"))]


def test_each_transaction_set_is_one_remittance(monkeypatch):
    one = payment_for(claim("C00000071", line(1, "99213", "125.00")), paid="125.00")
    two = payment_for(claim("C00000072", line(1, "99214", "180.00")), paid="150.00", patient_responsibility="30.00")
    text = assert_valid(write_835_sets(([one], dict(reference="CHK71", method="CHK")),
                                       ([two], dict(reference="EFT72", provider_adjustments=[("FB", "-5.00")]))),
                        monkeypatch, sets=2)
    first, second = read_835(text)
    assert [(r.reference, r.method, r.amount, [c.claim_number for c in r.claims]) for r in (first, second)] == [
        ("CHK71", "check", D("125.00"), ["C00000071"]), ("EFT72", "eft", D("155.00"), ["C00000072"])]


# --------------------------------------------------------------------------- refused

def good_835():
    return write_835([payment_for(claim("C00000051", line(1, "99213", "125.00")), paid="100.00",
                                  patient_responsibility="25.00")])


@pytest.mark.parametrize("mangle, expected", [
    (lambda t: t[: len(t) // 2], "cut short"),  # truncated in the middle
    (lambda t: t.replace("CLP*C00000051*1*125*100", "CLP*C00000051*1*125*1O0"), "(CLP): element 4 is not an amount"),
    (lambda t: t.replace("DTM*472*20261120", "DTM*472*20261320"), "(DTM): element 2 is not a date"),
    (lambda t: t.replace("CAS*PR*2*25", "CAS*XX*2*25"), "(CAS): CAS01 is not an adjustment group"),
    (lambda t: t.replace("SE*", "SE*9"), "(SE): SE01 says"),
    (lambda t: t.replace("BPR*I*100*", "BPR*I*90*"), "(BPR): BPR02 (90.00) is not the claim payments (100.00)"),
    (lambda t: t.replace("TRN*1*", "TRX*1*"), "the TRN segment"),
    (lambda t: "%PDF-1.7\n" + t, "does not start with an ISA segment"),
    (lambda t: t.replace("GS*HP", "GS*HP").replace("ST*835", "ST*837"), "is a 837 transaction set, not a 835"),
])
def test_a_malformed_835_is_refused_naming_the_segment(mangle, expected):
    text = mangle(good_835())
    with pytest.raises(ValidationFailed) as exc:
        read_835(text)
    (message,) = messages(exc)
    assert message.startswith("The 835 file cannot be read") and expected in message, message


def test_refusals_never_quote_patient_data():
    text = good_835().replace("NM1*QC*1*NGUYEN*ANH", "NM1*QC*1*NGUYEN*ANH").replace("SVC*HC:99213*125*100",
                                                                                      "SVC*HC:99213*12S*100")
    with pytest.raises(ValidationFailed) as exc:
        read_835(text)
    (message,) = messages(exc)
    assert "(SVC)" in message and "NGUYEN" not in message and "12S" not in message


def test_a_999_is_not_read_as_an_835():
    with pytest.raises(ValidationFailed) as exc:
        read_835(write_999("42"))
    assert "is a 999 transaction set, not a 835" in messages(exc)[0]


def test_binary_or_empty_input_is_refused():
    for data in (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, b"", "ISA*00"):
        with pytest.raises(ValidationFailed):
            read_835(data)


def test_line_payments_carry_what_payment_for_gives():
    # the writer's helper balances each line: paid + CO + PR = charge
    payment = payment_for(claim("C00000061", line(1, "99213", "100"), line(2, "81002", "20")), paid="80",
                          patient_responsibility="20")
    for ln in payment.lines:
        assert isinstance(ln, LinePayment)
        assert ln.paid + sum(a.amount for a in ln.adjustments) == ln.charge
