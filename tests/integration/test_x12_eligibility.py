"""X12 5010 eligibility: the 270 written for a day's appointments validates with x12sdk and says
what we mean (payer, practice, member, names, birth dates, service date, traces, counts, control
numbers); a 271 is read back into the same checks, all or nothing."""
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from x12sdk.io import X12ModelReader
from x12sdk.v5010.x12_270_005010X279A1.transaction_set import EligibilityInquiry

from app.extensions import db
from app.models.billing import EligibilityCheck
from app.services import x12_eligibility as x12
from app.services.errors import ValidationFailed
from tests.factories import PatientFactory
from tests.integration.test_eligibility import DAY, NOW, clinic_with_insurance, insure
from tests.scheduling_setup import book


def segments(text):
    return [s.strip().split("*") for s in text.strip().split("~") if s.strip()]


def write(c, appointments=None, control=42):
    return x12.write_270(db.session, appointments or c.appointments, now=NOW, control_number=control)


@pytest.fixture
def c(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULING_ALLOW_PAST", True)
    return clinic_with_insurance()


def test_270_validates_with_x12sdk_and_says_what_we_mean(c):
    text = write(c)
    with X12ModelReader(text) as reader:  # x12sdk parses and validates (pydantic) the whole transaction
        models = list(reader.models())
    assert len(models) == 1 and isinstance(models[0], EligibilityInquiry)
    inquiry = models[0]
    source = inquiry.loop_2000a[0]
    assert source.loop_2100a.nm1_segment.identification_code == "ACME01"
    assert source.loop_2100a.nm1_segment.name_last_or_organization_name == "ACME HEALTH"
    receiver = source.loop_2000b[0].loop_2100b.nm1_segment
    assert (receiver.name_last_or_organization_name, receiver.identification_code) == ("SUNRISE CLINIC", "1234567893")
    subs = source.loop_2000b[0].loop_2000c
    assert len(subs) == 2  # the self-pay patient is not asked about
    first, second = subs
    name = first.loop_2100c.nm1_segment
    assert (name.name_last_or_organization_name, name.name_first, name.identification_code) == (
        "NUNEZ", "JOSE", "MEM-0001")
    assert first.loop_2100c.dmg_segment.date_time_period in ("19800304", date(1980, 3, 4))
    assert first.loop_2100c.dtp_segment.date_time_period in ("20261127", date(2026, 11, 27))
    assert [e.eq_segment.service_type_code for e in first.loop_2100c.loop_2110c] == [["30"]]
    # the second is a child: subscriber (the mother, another patient) in 2000C, the patient in 2000D
    assert second.hl_segment.hierarchical_child_code == "1"
    assert second.loop_2100c.nm1_segment.name_last_or_organization_name == "PARENT"
    assert second.loop_2100c.nm1_segment.identification_code == "MEM-0002"
    dep = second.loop_2000d[0]
    assert dep.loop_2100d.nm1_segment.name_first == "LUCIA"
    assert dep.loop_2100d.dtp_segment.date_time_period in ("20261127", date(2026, 11, 27))

    checks = db.session.scalars(select(EligibilityCheck).order_by(EligibilityCheck.id)).all()
    assert [(ch.method, ch.result) for ch in checks] == [("x12", "pending")] * 2
    assert first.trn_segment[0].reference_identification_1 == checks[0].trace_number
    assert dep.trn_segment[0].reference_identification_1 == checks[1].trace_number
    assert first.trn_segment[0].originating_company_identifier == "1123456789"  # "1" + the EIN

    segs = segments(text)
    ids = [s[0] for s in segs]
    isa, gs, st, se, ge, iea = (segs[ids.index(t)] for t in ("ISA", "GS", "ST", "SE", "GE", "IEA"))
    assert isa[13] == iea[2] == "000000042" and isa[15] == "T" and isa[6].strip() == "SUNRISE"
    assert gs[1] == "HS" and gs[6] == ge[2] == "42" and gs[8] == "005010X279A1"
    assert st[1:] == ["270", "0042", "005010X279A1"] and se[2] == "0042"
    assert int(se[1]) == ids.index("SE") - ids.index("ST") + 1  # SE01 counts ST..SE
    assert segs[ids.index("BHT")][1:3] == ["0022", "13"]
    assert ["HL", "1", "", "20", "1"] in segs and ["HL", "2", "1", "21", "1"] in segs


def test_nothing_to_ask_about_writes_nothing(c):
    with pytest.raises(ValidationFailed):
        write(c, [c.self_pay_appointment])
    assert db.session.scalar(select(func.count()).select_from(EligibilityCheck)) == 0


def _271(traces, bodies):
    """A 271 answering `traces` (one subscriber each) with the given segments after the NM1."""
    segs = []
    for n, (trace, body) in enumerate(zip(traces, bodies), start=3):
        segs += [f"HL*{n}*2*22*0", f"TRN*2*{trace}*1123456789", "NM1*IL*1*NUNEZ*JOSE****MI*MEM-0001"] + body
    return _interchange(segs)


def _271_dependent(trace, body):
    """A 271 answering a dependent's trace (2000D) with the given segments after the dependent's NM1."""
    return _interchange(["HL*3*2*22*1", "NM1*IL*1*PARENT*MARIA****MI*MEM-0002", "HL*4*3*23*0",
                         f"TRN*2*{trace}*1123456789", "NM1*03*1*NUNEZ*LUCIA"] + body)


def _interchange(members):
    segs = ["ST*271*0001*005010X279A1", "BHT*0022*11*42*20261127*1200", "HL*1**20*1",
            "NM1*PR*2*ACME HEALTH*****PI*ACME01", "HL*2*1*21*1", "NM1*1P*2*SUNRISE CLINIC*****XX*1234567893",
            *members]
    segs.append(f"SE*{len(segs) + 1}*0001")
    isa = ("ISA*00*          *00*          *ZZ*ACMEPAYER      *ZZ*SUNRISE        *261127*1200*^*00501*000000007*0*T*:")
    return "~\n".join([isa, "GS*HB*ACMEPAYER*SUNRISE*20261127*1200*7*X*005010X279A1", *segs, "GE*1*7",
                       "IEA*1*000000007"]) + "~\n"


ACTIVE = ["DMG*D8*19800304*M", "EB*1*IND*30**GOLD PLAN", "EB*B*IND*98***27*25.00****Y",
          "EB*C*IND*30***29*500.00****Y", "EB*C*IND*30***23*1500.00****Y", "EB*G*IND*30***29*2750.50****Y"]
INACTIVE = ["EB*6*IND*30"]
REJECTED = ["AAA*Y**15*C"]


def test_271_answers_the_pending_checks(c):
    write(c)
    checks = db.session.scalars(select(EligibilityCheck).order_by(EligibilityCheck.id)).all()
    traces = [ch.trace_number for ch in checks]
    # a third, made-up trace for a rejection to be reported as unknown is tested separately
    summary = x12.read_271(db.session, _271(traces, [ACTIVE, INACTIVE]))
    assert summary.unknown == []
    db.session.expire_all()
    first, second = db.session.scalars(select(EligibilityCheck).order_by(EligibilityCheck.id)).all()
    assert (first.result, first.copay, first.deductible_remaining, first.out_of_pocket_remaining) == (
        "active", Decimal("25.00"), Decimal("500.00"), Decimal("2750.50"))
    assert (second.result, second.copay) == ("inactive", None)


def test_271_rejection_is_an_error_with_the_reason(c):
    write(c)
    trace = db.session.scalars(select(EligibilityCheck.trace_number).order_by(EligibilityCheck.id)).first()
    x12.read_271(db.session, _271([trace], [REJECTED]))
    db.session.expire_all()
    check = db.session.scalar(select(EligibilityCheck).where(EligibilityCheck.trace_number == trace))
    assert check.result == "error"
    assert "15" in check.notes and "Required application data missing" in check.notes


def test_271_with_an_unknown_trace_changes_nothing_and_says_so(c):
    write(c)
    summary = x12.read_271(db.session, _271(["999-999"], [ACTIVE]))
    assert summary.unknown == ["999-999"] and summary.updated == []
    assert set(db.session.scalars(select(EligibilityCheck.result))) == {"pending"}


@pytest.mark.parametrize("text", [
    "hello",
    # the EB01 code does not exist: x12sdk refuses the transaction
    "SWAP:EB*1*IND*30**GOLD PLAN=EB*Q9*IND*30",
    # the SE count is wrong
    "SWAP:SE*=SE*99",
])
def test_malformed_271_is_refused_and_nothing_changes(c, text):
    write(c)
    traces = db.session.scalars(select(EligibilityCheck.trace_number).order_by(EligibilityCheck.id)).all()
    good = _271(traces, [ACTIVE, INACTIVE])
    if text.startswith("SWAP:"):
        old, new = text[5:].split("=")
        if old == "SE*":
            body = good.split("SE*")
            good = body[0] + "SE*99*" + body[1].split("*", 1)[1]
        else:
            good = good.replace(old, new)
        text = good
    with pytest.raises(x12.X12FileError) as err:
        x12.read_271(db.session, text)
    assert "271" in str(err.value.message)
    db.session.rollback()
    assert set(db.session.scalars(select(EligibilityCheck.result))) == {"pending"}


def _checks():
    db.session.expire_all()
    return db.session.scalars(select(EligibilityCheck).order_by(EligibilityCheck.id)).all()


@pytest.mark.parametrize("aaa, reason", [
    ("AAA*N**72*C", "Invalid/missing subscriber/insured ID (72)"),
    ("AAA*N**73*C", "Invalid/missing subscriber/insured name (73)"),
    ("AAA*N**75*C", "Subscriber/insured not found (75)"),
    ("AAA*N**76*C", "Duplicate subscriber/insured ID number (76)"),
])
def test_271_subscriber_rejection_in_2100c_is_an_error_with_the_reason(c, aaa, reason):
    # x12sdk 2.2.0 on its own refuses these valid 271s (2100C AAA typed with the 2100B code list)
    write(c)
    first, second = _checks()
    summary = x12.read_271(db.session, _271([first.trace_number], [[aaa]]))
    assert summary.unknown == [] and [ch.id for ch in summary.updated] == [first.id]
    first, second = _checks()
    assert first.result == "error" and first.copay is None
    assert first.notes == f"{reason}. Follow-up: Please correct and resubmit (C)."
    assert second.result == "pending" and second.notes is None


@pytest.mark.parametrize("aaa, reason", [
    ("AAA*N**72*C", "Invalid/missing subscriber/insured ID (72)"),
    ("AAA*N**75*C", "Subscriber/insured not found (75)"),
    ("AAA*N**67*R", "Patient not found (67)"),
])
def test_271_rejection_in_2100d_answers_the_dependents_check(c, aaa, reason):
    write(c)
    adult, child = _checks()
    summary = x12.read_271(db.session, _271_dependent(child.trace_number, [aaa]))
    assert [ch.id for ch in summary.updated] == [child.id]
    adult, child = _checks()
    assert child.result == "error" and reason in child.notes and "Follow-up:" in child.notes
    assert ("Resubmission allowed (R)" if aaa.endswith("R") else "Please correct and resubmit (C)") in child.notes
    assert adult.result == "pending"


def test_the_workaround_is_scoped_to_read_271(c):
    write(c)
    first = _checks()[0]
    text = _271([first.trace_number], [["AAA*N**75*C"]])
    x12.read_271(db.session, text)
    assert _checks()[0].result == "error"
    # other parsing in the process still uses x12sdk's own models, unchanged
    with pytest.raises(ValueError, match="reject_reason_code"):
        with X12ModelReader(text) as reader:
            list(reader.models())


@pytest.mark.parametrize("text", [
    _271(["TRACE"], [["AAA*N**99*C"]]),  # no such AAA03 code anywhere
    _271_dependent("TRACE", ["AAA*N**99*C"]),
    _271(["TRACE"], [["AAA*N**75*Q"]]),  # no such follow-up action
    # 75 is a subscriber code: not allowed for the information receiver (2100B)
    _271(["TRACE"], [[]]).replace("XX*1234567893~", "XX*1234567893~\nAAA*N**75*C~"),
])
def test_271_with_an_invalid_aaa_is_refused_and_nothing_changes(c, text):
    write(c)
    trace = _checks()[0].trace_number
    with pytest.raises(x12.X12FileError) as err:
        x12.read_271(db.session, text.replace("TRACE", trace))
    message = str(err.value.message)
    assert "not a valid X12 271 eligibility response" in message
    assert "reject_reason_code" in message or "follow_up_action_code" in message
    db.session.rollback()
    assert [(ch.result, ch.notes) for ch in _checks()] == [("pending", None)] * 2
