"""The batch 837P file: every file written here goes through two independent validators.

pyx12 (its 999 must say AK9*A, not just exit quietly) checks the file against the 005010X222A1
map; x12sdk parses it into its typed 837P models, and the tests read the meaning back from
those: CLM02 = sum of SV102, every SV107 pointer lands on an HI code, the codes are the ones
given and billable on the date of service, subscriber/patient loops, REF*F8, 2320/2330/2430.
No database needed.
"""
import io
from datetime import date, datetime
from decimal import Decimal

import pytest

from app.claims import Address, Adjustment, ClaimData, ClaimLine, LineAdjudication, OtherPayer, Party
from app.claims.x12_837p import Envelope, envelope_from_settings, money, write_837p
from app.models.billing import BillingSettings
from app.services.checkdigits import npi_valid

GROUP_NPI = "1234567893"
RENDERING_NPI = "1987654328"
FACILITY_NPI = "1456789019"
OTHER_GROUP_NPI = "1765432103"
DOS = date(2026, 11, 20)
CREATED = datetime(2026, 11, 27, 16, 30)


# --------------------------------------------------------------------------- data

def envelope(usage="T"):
    return Envelope(
        sender_qualifier="ZZ", sender_id="CLINICDESK01", receiver_qualifier="ZZ", receiver_id="CLEARHOUSE",
        application_sender="CLINICDESK01", application_receiver="CLEARHOUSE",
        submitter_name="Riverside Family Practice", submitter_id="SUB12345",
        submitter_contact_name="Maria Lopez", submitter_contact_phone="(617) 555-0142",
        submitter_contact_email="billing@riverside.example", receiver_name="Clear Claims Inc",
        receiver_id_1000b="CLEARHOUSE", usage_indicator=usage)


def billing(npi=GROUP_NPI, name="Riverside Family Practice"):
    return Party(name=name, id_qualifier="XX", id=npi, tax_id="041234567", taxonomy="207Q00000X",
                 address=Address("100 Main Street", "Boston", "MA", "021081234", line2="Suite 200"))


def person(family, given, member_id, birth, sex, street="12 Elm Street"):
    return Party(name=family, given_name=given, id_qualifier="MI", id=member_id, birth_date=birth, sex=sex,
                 address=Address(street, "Cambridge", "MA", "02139"))


def payer(name="Blue Harbor Health", payer_id="BHH01"):
    return Party(name=name, id_qualifier="PI", id=payer_id)


def line(number, code, charge, pointers, modifiers=(), units="1", **kw):
    return ClaimLine(number=number, code=code, modifiers=list(modifiers), units=Decimal(units),
                     charge=Decimal(charge), service_date=DOS, place_of_service="11", pointers=pointers, **kw)


def claim(number="CLM1001", lines=None, diagnoses=("E119",), **kw):
    lines = lines or [line(1, "99213", "125.00", [1])]
    subscriber = person("Nguyen", "Anh", "XYZ123456789", date(1980, 3, 14), "F")
    data = dict(
        claim_number=number, frequency="1", payer_claim_control_number=None,
        total_charge=sum((ln.charge for ln in lines), Decimal(0)), place_of_service="11",
        billing_provider=billing(), pay_to=None, subscriber=subscriber, relationship="18", patient=subscriber,
        payer=payer(), claim_filing_indicator="CI", payer_responsibility="P", member_group="GRP7788",
        plan_name="Blue Harbor PPO",
        rendering_provider=Party(name="Okafor", given_name="Chidi", id_qualifier="XX", id=RENDERING_NPI,
                                 taxonomy="207Q00000X"),
        service_facility=None, diagnoses=list(diagnoses), lines=lines)
    data.update(kw)
    return ClaimData(**data)


def dependent_claim(**kw):
    subscriber = person("Haddad", "Omar", "AET998877", date(1975, 7, 2), "M")
    child = person("Haddad", "Layla", None, date(2015, 9, 30), "F")
    return claim(number="CLM2001", subscriber=subscriber, patient=child, relationship="19",
                 payer=payer("Aetna", "60054"), diagnoses=["J069", "R509"],
                 lines=[line(1, "99214", "180", [1, 2]), line(2, "87880", "35.5", [1], modifiers=["QW"])], **kw)


def secondary_claim():
    patient = person("Nguyen", "Anh", "MCD5566778", date(1980, 3, 14), "F")
    primary_subscriber = person("Nguyen", "Anh", "XYZ123456789", date(1980, 3, 14), "F")
    lines = [
        line(1, "99213", "125", [1], other_payer=[LineAdjudication(
            payer_id="BHH01", paid=Decimal("80"), code="99213", modifiers=[], units=Decimal(1),
            paid_date=date(2026, 11, 25), adjustments=[Adjustment("CO", "45", Decimal("25")),
                                                       Adjustment("PR", "2", Decimal("20"))])]),
        line(2, "81002", "15", [1, 2], other_payer=[LineAdjudication(
            payer_id="BHH01", paid=Decimal("10.5"), code="81002", modifiers=[], units=Decimal(1),
            paid_date=date(2026, 11, 25), adjustments=[Adjustment("PR", "2", Decimal("4.5"))])]),
    ]
    other = OtherPayer(payer=payer(), subscriber=primary_subscriber, relationship="18",
                       claim_filing_indicator="CI", member_group="GRP7788", paid=Decimal("90.5"),
                       adjustments=[], payer_claim_control_number="BHH2026112500017")
    return claim(number="CLM3001", subscriber=patient, patient=patient, payer=payer("MassHealth", "MCDMA"),
                 payer_responsibility="S", claim_filing_indicator="MC", member_group=None, plan_name=None,
                 diagnoses=["E119", "R350"], lines=lines, other_payers=[other])


# --------------------------------------------------------------------------- validators

def pyx12_999(text):
    """pyx12's 999 acknowledgement for `text` (and its own verdict)."""
    import pyx12.params
    import pyx12.x12n_document

    ack = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), ack, None)
    return ok, ack.getvalue()


def assert_valid(text, transactions=1):
    ok, ack = pyx12_999(text)
    assert f"AK9*A*{transactions}*{transactions}*{transactions}~" in ack, ack
    assert "IK3" not in ack and "IK4" not in ack, ack
    assert ok, ack
    return parse(text, transactions)


def parse(text, transactions=1):
    from x12sdk.io import X12ModelReader

    with X12ModelReader(text) as reader:
        models = list(reader.models())
    assert len(models) == transactions
    return models[0] if transactions == 1 else models


def segments(text):
    return [s.strip().split("*") for s in text.split("~") if s.strip()]


def all_claims(model):
    """(subscriber loop, patient loop or None, claim loop) for every claim of the parsed 837P."""
    found = []
    for provider in model.loop_2000a:
        for subscriber in provider.loop_2000b:
            for claim_loop in subscriber.loop_2300 or []:
                found.append((subscriber, None, claim_loop))
            for patient in subscriber.loop_2000c or []:
                for claim_loop in patient.loop_2300:
                    found.append((subscriber, patient, claim_loop))
    return found


def diagnosis_codes(claim_loop):
    """The HI codes in order, with their qualifiers checked: ABK first, ABF after."""
    (hi,) = claim_loop.hi_segment
    found = []
    for n in range(1, 13):
        value = getattr(hi, f"health_care_code_{n}", None)
        if value is None:
            break
        qualifier, code = value
        assert qualifier == ("ABK" if n == 1 else "ABF")
        found.append(code)
    return found


def pointer_list(sv1):
    return [int(p) for p in sv1.composite_diagnosis_code_pointer.split(":")]


def assert_billable(codes, service_date):
    """Every code is a billable ICD-10-CM code (a leaf) of the release in force on `service_date`."""
    import simple_icd_10_cm as cm

    from app.services.icd10 import default_release

    assert default_release()[1] <= service_date
    for code in codes:
        assert cm.is_valid_item(code) and cm.is_leaf(code), code


def assert_meaning(claim_loop, data: ClaimData):
    clm = claim_loop.clm_segment
    charges = [Decimal(str(sl.sv1_segment.line_item_charge_amount)) for sl in claim_loop.loop_2400]
    assert Decimal(str(clm.total_claim_charge_amount)) == sum(charges) == data.total_charge
    assert charges == [ln.charge for ln in data.lines]
    diagnoses = diagnosis_codes(claim_loop)
    assert diagnoses == data.diagnoses
    for service, given in zip(claim_loop.loop_2400, data.lines):
        pointers = pointer_list(service.sv1_segment)
        assert pointers == given.pointers
        assert all(1 <= p <= len(diagnoses) for p in pointers)
        assert_billable(diagnoses, given.service_date)


# --------------------------------------------------------------------------- tests

def test_money_is_an_x12_decimal():
    assert [money(Decimal(v)) for v in ("100.00", "100.50", "0.00", "1200", "99.99")] == \
        ["100", "100.5", "0", "1200", "99.99"]
    assert all(npi_valid(n) for n in (GROUP_NPI, RENDERING_NPI, FACILITY_NPI, OTHER_GROUP_NPI))


def test_single_line_claim_validates_and_means_what_was_given():
    data = claim()
    text = write_837p([data], envelope=envelope(), control_number=42, created_at=CREATED)
    model = assert_valid(text)
    ((subscriber, patient, claim_loop),) = all_claims(model)
    assert patient is None
    assert subscriber.sbr_segment.individual_relationship_code == "18"
    assert subscriber.sbr_segment.payer_responsibility_code == "P"
    assert subscriber.loop_2010ba.nm1_segment.identification_code == "XYZ123456789"
    assert subscriber.loop_2010bb.nm1_segment.identification_code == "BHH01"
    assert_meaning(claim_loop, data)
    assert claim_loop.clm_segment.patient_control_number == "CLM1001"
    assert claim_loop.clm_segment.health_care_service_location_information == "11:B:1"
    assert claim_loop.loop_2310b.nm1_segment.identification_code == RENDERING_NPI
    provider = model.loop_2000a[0]
    assert provider.prv_segment.reference_identification == "207Q00000X"
    assert provider.loop_2010aa.nm1_segment.identification_code == GROUP_NPI
    assert provider.loop_2010aa.n4_segment.postal_code == "021081234"
    assert [r.reference_identification for r in provider.loop_2010aa.ref_segment] == ["041234567"]
    rows = segments(text)
    assert rows[0][0] == "ISA" and len(text.split("~")[0] + "~") == 106  # fixed width, terminator included
    assert rows[0][11] == "^" and rows[0][16] == ":" and rows[0][15] == "T"
    assert ["BHT", "0019", "00", "42-1", "20261127", "1630", "CH"] in rows
    assert not any(s[0] == "REF" and s[1] == "F8" for s in rows)


def test_multi_line_claim_with_modifiers_units_and_pointers():
    lines = [
        line(1, "99214", "180.00", [1, 2, 3], modifiers=["25"]),
        line(2, "20610", "240.50", [3], modifiers=["RT", "59"]),
        line(3, "J1030", "24", [3, 4], units="2",
             rendering=Party(name="Park", given_name="Jin", id_qualifier="XX", id=OTHER_GROUP_NPI,
                             taxonomy="163W00000X")),
        line(4, "96372", "45.25", [4, 1], modifiers=["59", "XU", "GT", "95"]),
    ]
    data = claim(number="CLM1002", lines=lines, diagnoses=["M1711", "E119", "M25561", "I10"],
                 prior_authorization="PA20261119-77",
                 service_facility=Party(name="Riverside Orthopedic Annex", id_qualifier="XX", id=FACILITY_NPI,
                                        address=Address("5 River Road", "Boston", "MA", "02114")))
    text = write_837p([data], envelope=envelope(), control_number=43, created_at=CREATED)
    model = assert_valid(text)
    ((_, _, claim_loop),) = all_claims(model)
    assert_meaning(claim_loop, data)
    assert claim_loop.clm_segment.total_claim_charge_amount == Decimal("489.75")
    procedures = [sl.sv1_segment.product_service_id_qualifier for sl in claim_loop.loop_2400]
    assert procedures == ["HC:99214:25", "HC:20610:RT:59", "HC:J1030", "HC:96372:59:XU:GT:95"]
    assert [Decimal(str(sl.sv1_segment.service_unit_count)) for sl in claim_loop.loop_2400] == [1, 1, 2, 1]
    assert [r.reference_identification for r in claim_loop.ref_segment
            if r.reference_identification_qualifier == "G1"] == ["PA20261119-77"]
    assert claim_loop.loop_2400[2].loop_2420a.nm1_segment.identification_code == OTHER_GROUP_NPI
    assert claim_loop.loop_2400[2].loop_2420a.prv_segment.reference_identification == "163W00000X"
    assert claim_loop.loop_2400[0].loop_2420a is None
    assert claim_loop.loop_2310c.nm1_segment.identification_code == FACILITY_NPI
    assert claim_loop.loop_2310c.n4_segment.postal_code == "02114"


def test_dependent_patient_gets_its_own_loop_under_the_subscriber():
    data = dependent_claim()
    text = write_837p([data], envelope=envelope(), control_number=44, created_at=CREATED)
    model = assert_valid(text)
    ((subscriber, patient, claim_loop),) = all_claims(model)
    assert patient is not None
    assert subscriber.hl_segment.hierarchical_child_code == "1"
    assert subscriber.sbr_segment.individual_relationship_code is None  # SBR02 only when the patient is the subscriber
    assert subscriber.loop_2010ba.nm1_segment.name_first == "OMAR"
    assert subscriber.loop_2010ba.nm1_segment.identification_code == "AET998877"
    assert patient.hl_segment.hierarchical_parent_id_number == subscriber.hl_segment.hierarchical_id_number
    assert patient.pat_segment.individual_relationship_code == "19"
    nm1 = patient.loop_2010ca.nm1_segment
    assert (nm1.entity_identifier_code, nm1.name_last_or_organization_name, nm1.name_first) == ("QC", "HADDAD", "LAYLA")
    assert patient.loop_2010ca.dmg_segment.date_time_period == date(2015, 9, 30)
    assert_meaning(claim_loop, data)
    assert claim_loop.loop_2400[1].sv1_segment.product_service_id_qualifier == "HC:87880:QW"


def test_replacement_claim_carries_the_payer_claim_control_number():
    data = claim(number="CLM1003", frequency="7", payer_claim_control_number="BHH2026111800042")
    model = assert_valid(write_837p([data], envelope=envelope(), control_number=45, created_at=CREATED))
    ((_, _, claim_loop),) = all_claims(model)
    assert claim_loop.clm_segment.health_care_service_location_information == "11:B:7"
    assert [(r.reference_identification_qualifier, r.reference_identification) for r in claim_loop.ref_segment] == \
        [("F8", "BHH2026111800042")]
    with pytest.raises(ValueError, match="payer claim control number"):
        write_837p([claim(frequency="8")], envelope=envelope(), control_number=46, created_at=CREATED)


def test_secondary_claim_carries_the_primary_payers_adjudication():
    data = secondary_claim()
    text = write_837p([data], envelope=envelope(), control_number=47, created_at=CREATED)
    model = assert_valid(text)
    ((subscriber, _, claim_loop),) = all_claims(model)
    assert subscriber.sbr_segment.payer_responsibility_code == "S"
    assert subscriber.loop_2010bb.nm1_segment.identification_code == "MCDMA"
    assert_meaning(claim_loop, data)
    (other,) = claim_loop.loop_2320
    assert other.sbr_segment.payer_responsibility_code == "P"
    assert other.sbr_segment.claim_filing_indicator_code == "CI"
    assert [(a.amount_qualifier_code, a.monetary_amount) for a in other.amt_segment] == [("D", Decimal("90.5"))]
    assert other.loop_2330a.nm1_segment.identification_code == "XYZ123456789"
    assert other.loop_2330b.nm1_segment.identification_code == "BHH01"
    assert [r.reference_identification for r in other.loop_2330b.ref_segment] == ["BHH2026112500017"]
    paid = Decimal(0)
    for service, given in zip(claim_loop.loop_2400, data.lines):
        (adjudication,) = service.loop_2430
        svd = adjudication.svd_segment
        assert svd.other_payer_primary_identifier == other.loop_2330b.nm1_segment.identification_code
        adjusted = sum(Decimal(str(c.monetary_amount_1)) for c in adjudication.cas_segment)
        # the line balances: charge = what the primary paid + what it adjusted
        assert Decimal(str(svd.service_line_paid_amount)) + adjusted == given.charge
        assert adjudication.dtp_segment.date_time_qualifier == "573"
        paid += Decimal(str(svd.service_line_paid_amount))
    assert paid == Decimal("90.5")  # = AMT*D
    first_line = claim_loop.loop_2400[0].loop_2430[0]
    groups = [(c.adjustment_group_code, c.adjustment_reason_code_1) for c in first_line.cas_segment]
    assert groups == [("CO", "45"), ("PR", "2")]


def test_claim_level_adjustments_go_into_2320_cas():
    data = secondary_claim()
    data.other_payers[0].adjustments = [Adjustment("OA", "23", Decimal("10"))]
    model = assert_valid(write_837p([data], envelope=envelope(), control_number=48, created_at=CREATED))
    ((_, _, claim_loop),) = all_claims(model)
    (cas,) = claim_loop.loop_2320[0].cas_segment
    assert (cas.adjustment_group_code, cas.adjustment_reason_code_1) == ("OA", "23")
    assert cas.monetary_amount_1 == Decimal("10")


def test_batch_of_claims_envelopes_counts_and_hierarchy():
    other_practice = claim(number="CLM4001", billing_provider=billing(OTHER_GROUP_NPI, "Riverside Pediatrics"),
                           pay_to=Address("PO Box 77", "Boston", "MA", "022170077"))
    batch = [claim(), dependent_claim(), secondary_claim(), other_practice,
             claim(number="CLM1009", lines=[line(1, "99395", "210", [1])], diagnoses=["Z0000"])]
    text = write_837p(batch, envelope=envelope("P"), control_number=123456, created_at=CREATED)
    model = assert_valid(text)
    rows = segments(text)
    isa, gs, st = rows[0], rows[1], rows[2]
    ge, iea, se = rows[-2], rows[-1], rows[-3]
    assert isa[13] == "000123456" == iea[2] and iea[1] == "1"
    assert isa[15] == "P"
    assert gs[6] == "123456" == ge[2] and ge[1] == "1"
    assert gs[8] == st[3] == "005010X222A1"
    assert se[0] == "SE" and int(se[1]) == len(rows) - 4 and se[2] == st[2]
    # two billing providers, each a 2000A; HL ids run 1.. and every parent exists
    hls = [r for r in rows if r[0] == "HL"]
    assert [int(h[1]) for h in hls] == list(range(1, len(hls) + 1))
    assert [h[3] for h in hls if h[3] == "20"] == ["20", "20"]
    ids = {h[1]: h[3] for h in hls}
    assert all(ids[h[2]] == {"22": "20", "23": "22"}[h[3]] for h in hls if h[3] != "20")
    assert [p.loop_2010aa.nm1_segment.identification_code for p in model.loop_2000a] == [GROUP_NPI, OTHER_GROUP_NPI]
    assert model.loop_2000a[1].loop_2010ab.n4_segment.postal_code == "022170077"
    found = all_claims(model)
    by_number = {c.clm_segment.patient_control_number: c for _, _, c in found}
    assert sorted(by_number) == sorted(c.claim_number for c in batch)
    for data in batch:
        assert_meaning(by_number[data.claim_number], data)


def test_validators_are_not_a_formality():
    """Broken files are rejected by both validators; claims that would make one, by the writer."""
    text = write_837p([claim()], envelope=envelope(), control_number=49, created_at=CREATED)
    wrong_count = text.replace("SE*26*0001", "SE*25*0001")
    wrong_qualifier = text.replace("HI*ABK:E119", "HI*XX:E119")
    wrong_total = text.replace("CLM*CLM1001*125*", "CLM*CLM1001*126*")
    assert text != wrong_count and text != wrong_qualifier and text != wrong_total
    for broken in (wrong_count, wrong_qualifier):
        ok, ack = pyx12_999(broken)
        assert "AK9*R" in ack and not ok
    for broken, message in ((wrong_count, "SE segment count"), (wrong_total, "Service Line Total")):
        with pytest.raises(ValueError, match=message):
            parse(broken)
    with pytest.raises(ValueError, match="points to a diagnosis"):
        write_837p([claim(lines=[line(1, "99213", "125", [2])])], envelope=envelope(), control_number=50,
                   created_at=CREATED)
    bad_total = claim()
    bad_total.total_charge = Decimal("130")
    with pytest.raises(ValueError, match="not the sum"):
        write_837p([bad_total], envelope=envelope(), control_number=51, created_at=CREATED)
    unbalanced = secondary_claim()
    unbalanced.lines[0].other_payer[0].paid = Decimal("85")
    with pytest.raises(ValueError) as refused:
        write_837p([unbalanced], envelope=envelope(), control_number=53, created_at=CREATED)
    assert "line 1: paid plus adjustments by BHH01 is not the line charge" in str(refused.value)
    assert "the line payments of BHH01 do not add up" in str(refused.value)


def test_envelope_from_billing_settings():
    settings = BillingSettings(
        submitter_id="SUB12345", submitter_name="Riverside Family Practice", submitter_contact_name="Maria Lopez",
        submitter_contact_phone="617-555-0142", submitter_contact_email="billing@riverside.example",
        receiver_id="CLEARHOUSE", receiver_name="Clear Claims Inc", isa_sender_qualifier="ZZ",
        isa_sender_id="CLINICDESK01", isa_receiver_qualifier="30", isa_receiver_id="043214567",
        usage_indicator="P")
    env = envelope_from_settings(settings)
    assert (env.sender_qualifier, env.sender_id, env.receiver_qualifier, env.receiver_id) == \
        ("ZZ", "CLINICDESK01", "30", "043214567")
    assert (env.application_sender, env.application_receiver, env.usage_indicator) == ("CLINICDESK01", "043214567", "P")
    assert (env.submitter_id, env.receiver_id_1000b) == ("SUB12345", "CLEARHOUSE")
    text = write_837p([claim()], envelope=env, control_number=52, created_at=CREATED)
    assert_valid(text)
    rows = segments(text)
    assert rows[0][5:9] == ["ZZ", "CLINICDESK01   ", "30", "043214567      "]
    assert ["NM1", "40", "2", "CLEAR CLAIMS INC", "", "", "", "", "46", "CLEARHOUSE"] in rows


def test_a_large_batch_is_split_into_transaction_sets(monkeypatch):
    from app.claims import x12_837p

    monkeypatch.setattr(x12_837p, "CLAIMS_PER_TRANSACTION", 2)
    batch = [claim(number=f"CLM50{n}") for n in range(4)] + [dependent_claim()]
    text = write_837p(batch, envelope=envelope(), control_number=77, created_at=CREATED)
    models = assert_valid(text, transactions=3)
    rows = segments(text)
    assert [r[2] for r in rows if r[0] == "ST"] == ["0001", "0002", "0003"]
    assert [r[3] for r in rows if r[0] == "BHT"] == ["77-1", "77-2", "77-3"]
    assert rows[-2] == ["GE", "3", "77"]
    starts = [i for i, r in enumerate(rows) if r[0] == "ST"]
    ends = [i for i, r in enumerate(rows) if r[0] == "SE"]
    assert [int(rows[e][1]) for e in ends] == [e - s + 1 for s, e in zip(starts, ends)]
    assert [rows[e][2] for e in ends] == ["0001", "0002", "0003"]
    written = [c.clm_segment.patient_control_number for m in models for _, _, c in all_claims(m)]
    assert written == [c.claim_number for c in batch]
