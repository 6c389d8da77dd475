"""X12 5010 eligibility: write a 270 inquiry (005010X279A1) for a batch of appointments, and
read the payer's 271 response back into the same EligibilityCheck rows.

Both directions go through x12sdk's typed models: the 270 is built as an EligibilityInquiry
(validated by pydantic as it is built; SE01 counted by x12sdk) and wrapped in the ISA/GS
envelope by x12sdk.io.write_transactions; the 271 is parsed by X12ModelReader into
EligibilityBenefit models. Each inquiry carries a TRN*1 trace number at the patient's level
(2000C when the subscriber is the patient, 2000D for a dependent) that the 271 echoes as TRN*2.
"""
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from functools import lru_cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..models.billing import BillingSettings, EligibilityCheck
from .coverage import active_coverages
from . import counters
from .eligibility import service_date_of
from .errors import DomainError, ValidationFailed

CONTROL_COUNTER = "x12_270_control"
SERVICE_TYPE = "30"  # health benefit plan coverage
SEX_CODES = {"female": "F", "male": "M"}
REJECT_REASONS = {  # AAA03, 005010X279A1
    "04": _l("Authorized quantity exceeded"), "15": _l("Required application data missing"),
    "35": _l("Out of network"), "41": _l("Authorization/access restrictions"),
    "42": _l("Unable to respond at current time"), "43": _l("Invalid/missing provider identification"),
    "44": _l("Invalid/missing provider name"), "45": _l("Invalid/missing provider specialty"),
    "46": _l("Invalid/missing provider phone number"), "47": _l("Invalid/missing provider state"),
    "48": _l("Invalid/missing referring provider identification number"),
    "49": _l("Provider is not primary care physician"), "50": _l("Provider ineligible for inquiries"),
    "51": _l("Provider not on file"), "52": _l("Service dates not within provider plan enrollment"),
    "56": _l("Inappropriate date"), "57": _l("Invalid/missing date(s) of service"),
    "58": _l("Invalid/missing date-of-birth"), "60": _l("Date of birth follows date(s) of service"),
    "61": _l("Date of death precedes date(s) of service"),
    "62": _l("Date of service not within allowable inquiry period"), "63": _l("Date of service in future"),
    "64": _l("Invalid/missing patient ID"), "65": _l("Invalid/missing patient name"),
    "66": _l("Invalid/missing patient gender code"), "67": _l("Patient not found"),
    "68": _l("Duplicate patient ID number"),
    "71": _l("Patient birth date does not match that for the patient on the database"),
    "72": _l("Invalid/missing subscriber/insured ID"), "73": _l("Invalid/missing subscriber/insured name"),
    "74": _l("Invalid/missing subscriber/insured gender code"), "75": _l("Subscriber/insured not found"),
    "76": _l("Duplicate subscriber/insured ID number"), "77": _l("Subscriber found, patient not found"),
    "78": _l("Subscriber/insured not in group/plan identified"), "79": _l("Invalid participant identification"),
    "80": _l("No response received - transaction terminated"), "97": _l("Invalid or missing provider address"),
    "T4": _l("Payer name or identifier missing"),
}
FOLLOW_UP_ACTIONS = {  # AAA04, 005010X279A1
    "C": _l("Please correct and resubmit"), "N": _l("Resubmission not allowed"),
    "P": _l("Please resubmit original transaction"), "R": _l("Resubmission allowed"),
    "S": _l("Do not resubmit; inquiry initiated to a third party"), "W": _l("Please wait 30 days and resubmit"),
    "X": _l("Please wait 10 days and resubmit"),
    "Y": _l("Do not resubmit; we will hold your request and respond again shortly"),
}
# AAA03 codes the 005010X279A1 guide lists for the Subscriber and Dependent Request Validation (loops
# 2100C and 2100D, AAA03): the provider and date codes, 64-68 (patient), 71, 72-78 (subscriber/insured).
# Both name loops take the union: a payer answering about a dependent may say the subscriber was not
# found (75) in 2100D, and the check only records the reason.
MEMBER_REJECT_CODES = ("15", "35", "42", "43", "45", "47", "48", "49", "51", "52", "56", "57", "58", "60", "61",
                       "62", "63", "64", "65", "66", "67", "68", "71", "72", "73", "74", "75", "76", "77", "78")
ACTIVE, INACTIVE = "1", "6"
REMAINING = "29"  # EB06 time period: remaining
_CENT = Decimal("0.01")


class X12FileError(DomainError):
    """A 271 that cannot be read: nothing was changed."""

    status_code = 400


def next_control_number(session):
    """The next interchange control number (1 to 999999999), never reused."""
    return (counters.take(session, CONTROL_COUNTER) - 1) % 999999999 + 1  # ISA13 has nine digits


_DELIMITERS = re.compile(r"[*~:^\r\n]+")


def x12_text(value, limit):
    """Plain upper-case ASCII without delimiters (accents folded: "Núñez" -> "NUNEZ")."""
    text = unicodedata.normalize("NFKD", str(value or ""))
    text = "".join(c for c in text if not unicodedata.combining(c)).encode("ascii", "ignore").decode()
    return " ".join(_DELIMITERS.sub(" ", text).split()).upper()[:limit]


def _digits(value):
    return re.sub(r"\D", "", value or "")


def originating_company_id(settings):
    """TRN03: "1" + the practice's EIN, else "9" + nine digits of its group NPI."""
    ein = _digits(settings.tax_id)
    if len(ein) == 9:
        return "1" + ein
    return "9" + _digits(settings.group_npi)[-9:].rjust(9, "0")


def _settings_problems(settings):
    problems = []
    if settings is None:
        return [(None, _l("Fill in the billing settings first (practice name, group NPI, interchange ids)."))]
    labels = {"billing_name": _l("Billing name"), "group_npi": _l("Group NPI"),
              "isa_sender_id": _l("Interchange sender id"), "isa_receiver_id": _l("Interchange receiver id")}
    for name, label in labels.items():
        if not (getattr(settings, name) or "").strip():
            problems.append((None, _l("The billing settings have no %(field)s.", field=label)))
    for name in ("isa_sender_id", "isa_receiver_id"):
        value = (getattr(settings, name) or "").strip()
        if value and not 2 <= len(value) <= 15:
            problems.append((None, _l("The interchange ids must be 2 to 15 characters.")))
            break
    return problems


@dataclass
class Inquiry:
    """One question of the 270: a primary coverage on a date of service."""

    coverage: object
    appointment: object
    service_date: object
    check: EligibilityCheck = None


def inquiries_for(session, appointments):
    """The 270's questions: each appointment with an active primary insurance, once per coverage and day."""
    found, seen = [], set()
    for appointment in sorted(appointments, key=lambda a: (a.start_at, a.id)):
        day = service_date_of(appointment)
        primary = next((c for c in active_coverages(session, appointment.patient_id, day) if c.priority == 1), None)
        if primary is None or primary.self_pay or primary.payer is None or not primary.member_id:
            continue
        if (primary.id, day) in seen:
            continue
        seen.add((primary.id, day))
        found.append(Inquiry(primary, appointment, day))
    return found


def _person(coverage):
    """The subscriber as (family, given, birth date, sex): the patient, another patient, or described."""
    if coverage.subscriber_relationship == "self":
        p = coverage.patient
    elif coverage.subscriber_patient is not None:
        p = coverage.subscriber_patient
    else:
        return (coverage.subscriber_family_name, coverage.subscriber_given_name, coverage.subscriber_birth_date,
                coverage.subscriber_sex)
    return p.family_name, p.given_name, p.birth_date, p.sex


def _dmg(birth_date, sex):
    from x12sdk.v5010.segments import DmgSegment

    if birth_date is None:
        return None
    return DmgSegment(date_time_period_format_qualifier="D8", date_time_period=birth_date.strftime("%Y%m%d"),
                      gender_code=SEX_CODES.get(sex or "", "U"))


def build_270(settings, inquiries, *, now, control_number):
    """The EligibilityInquiry model (ST..SE): one information source per payer, the practice under it."""
    from x12sdk.support import count_segments
    from x12sdk.v5010.segments import SeSegment, TrnSegment
    from x12sdk.v5010.x12_270_005010X279A1 import loops as L
    from x12sdk.v5010.x12_270_005010X279A1 import segments as S
    from x12sdk.v5010.x12_270_005010X279A1.transaction_set import EligibilityInquiry

    st_control = str(control_number).zfill(4)
    company = originating_company_id(settings)
    by_payer = {}
    for inquiry in inquiries:
        by_payer.setdefault(inquiry.coverage.payer_id, []).append(inquiry)
    hl, sources = 0, []
    for group in by_payer.values():
        payer = group[0].coverage.payer
        hl += 1
        source_id = str(hl)
        hl += 1
        receiver_id = str(hl)
        subscribers = []
        for inquiry in group:
            cov, patient = inquiry.coverage, inquiry.coverage.patient
            hl += 1
            subscriber_id = str(hl)
            dependent = cov.subscriber_relationship != "self"
            trace = [TrnSegment(trace_type_code="1", reference_identification_1=inquiry.check.trace_number,
                                originating_company_identifier=company)]
            dtp = S.Loop2100DtpSegment(date_time_qualifier="291", date_time_period_format_qualifier="D8",
                                       date_time_period=inquiry.service_date.strftime("%Y%m%d"))
            eq = [L.Loop2110C(eq_segment=S.Loop2110EqSegment(service_type_code=[SERVICE_TYPE]))]
            family, given, birth, sex = _person(cov)
            subscriber = L.Loop2000C(
                hl_segment=S.Loop2000CHlSegment(hierarchical_id_number=subscriber_id,
                                                hierarchical_parent_id_number=receiver_id,
                                                hierarchical_level_code="22",
                                                hierarchical_child_code="1" if dependent else "0"),
                trn_segment=None if dependent else trace,
                loop_2100c=L.Loop2100C(
                    nm1_segment=S.Loop2100CNm1Segment(
                        entity_identifier_code="IL", entity_type_qualifier="1",
                        name_last_or_organization_name=x12_text(family, 60), name_first=x12_text(given, 35) or None,
                        identification_code_qualifier="MI", identification_code=x12_text(cov.member_id, 80)),
                    dmg_segment=_dmg(birth, sex),
                    dtp_segment=None if dependent else dtp,
                    loop_2110c=None if dependent else eq))
            if dependent:
                hl += 1
                subscriber.loop_2000d = [L.Loop2000D(
                    hl_segment=S.Loop2000DHlSegment(hierarchical_id_number=str(hl),
                                                    hierarchical_parent_id_number=subscriber_id,
                                                    hierarchical_level_code="23", hierarchical_child_code="0"),
                    trn_segment=trace,
                    loop_2100d=L.Loop2100D(
                        nm1_segment=S.Loop2100DNm1Segment(
                            entity_identifier_code="03", entity_type_qualifier="1",
                            name_last_or_organization_name=x12_text(patient.family_name, 60),
                            name_first=x12_text(patient.given_name, 35) or None),
                        dmg_segment=_dmg(patient.birth_date, patient.sex),
                        dtp_segment=dtp,
                        loop_2110d=[L.Loop2110D(eq_segment=S.Loop2110EqSegment(service_type_code=[SERVICE_TYPE]))]))]
            subscribers.append(subscriber)
        sources.append(L.Loop2000A(
            hl_segment=S.Loop2000AHlSegment(hierarchical_id_number=source_id, hierarchical_level_code="20",
                                            hierarchical_child_code="1"),
            loop_2100a=L.Loop2100A(nm1_segment=S.Loop2100ANm1Segment(
                entity_identifier_code="PR", entity_type_qualifier="2",
                name_last_or_organization_name=x12_text(payer.name, 60), identification_code_qualifier="PI",
                identification_code=x12_text(payer.payer_code, 80))),
            loop_2000b=[L.Loop2000B(
                hl_segment=S.Loop2000BHlSegment(hierarchical_id_number=receiver_id,
                                                hierarchical_parent_id_number=source_id,
                                                hierarchical_level_code="21", hierarchical_child_code="1"),
                loop_2100b=L.Loop2100B(nm1_segment=S.Loop2100BNm1Segment(
                    entity_identifier_code="1P", entity_type_qualifier="2",
                    name_last_or_organization_name=x12_text(settings.billing_name, 60),
                    identification_code_qualifier="XX", identification_code=_digits(settings.group_npi))),
                loop_2000c=subscribers)]))
    structure = {
        "header": L.Header(
            st_segment=S.HeaderStSegment(transaction_set_identifier_code="270",
                                         transaction_set_control_number=st_control,
                                         implementation_convention_reference="005010X279A1"),
            bht_segment=S.HeaderBhtSegment(hierarchical_structure_code="0022", transaction_set_purpose_code="13",
                                           submitter_transactional_identifier=str(control_number),
                                           transaction_set_creation_date=now.strftime("%Y%m%d"),
                                           transaction_set_creation_time=now.strftime("%H%M"))),
        "loop_2000a": sources,
    }
    placeholder = dict(structure, footer={"se_segment": {"transaction_segment_count": 1,
                                                         "transaction_set_control_number": st_control}})
    structure["footer"] = L.Footer(se_segment=SeSegment(transaction_segment_count=count_segments(placeholder),
                                                        transaction_set_control_number=st_control))
    return EligibilityInquiry(**structure)


def write_270(session, appointments, *, now, control_number, actor=None):
    """The 270 interchange for `appointments` (text); one pending EligibilityCheck per question.

    Appointments without an active primary insurance are left out; nothing to ask about, or
    incomplete billing settings, raise ValidationFailed and nothing is written.
    """
    from x12sdk.io import write_transactions

    settings = session.get(BillingSettings, 1)
    problems = _settings_problems(settings)
    inquiries = inquiries_for(session, appointments)
    if not inquiries:
        problems.append((None, _l("None of these appointments has an active primary insurance with a member id "
                                  "to check.")))
    if problems:
        raise ValidationFailed(problems)
    try:
        for inquiry in inquiries:
            inquiry.check = EligibilityCheck(
                coverage_id=inquiry.coverage.id, patient_id=inquiry.coverage.patient_id,
                appointment_id=inquiry.appointment.id, service_date=inquiry.service_date, method="x12",
                result="pending", checked_at=now, checked_by_fk=getattr(actor, "id", None))
            session.add(inquiry.check)
        session.flush()
        for inquiry in inquiries:
            inquiry.check.trace_number = f"{control_number}-{inquiry.check.id}"
        model = build_270(settings, inquiries, now=now, control_number=control_number)
        text = write_transactions(
            [model], sender_id=settings.isa_sender_id, receiver_id=settings.isa_receiver_id,
            sender_qualifier=settings.isa_sender_qualifier or "ZZ",
            receiver_qualifier=settings.isa_receiver_qualifier or "ZZ",
            interchange_control_number=str(control_number), group_control_number=str(control_number),
            created=now, usage_indicator=settings.usage_indicator or "T")
        session.commit()
    except Exception:
        session.rollback()
        raise
    return text + "\n"


# --------------------------------------------------------------------------- 271

@dataclass
class Answer:
    """What the 271 says about one trace number."""

    trace: str
    result: str
    copay: object = None
    deductible_remaining: object = None
    out_of_pocket_remaining: object = None
    notes: str = None


@dataclass
class Summary:
    """What reading a 271 did: the checks it answered, and traces it could not place."""

    updated: list = field(default_factory=list)
    unknown: list = field(default_factory=list)

    def counts(self):
        out = {}
        for check in self.updated:
            out[check.result] = out.get(check.result, 0) + 1
        return out


def _value(code):
    return getattr(code, "value", code)


def _aaa_note(segments):
    """The rejections as translated text, e.g. "Subscriber/insured not found (75). Follow-up: ... (C)."."""
    notes = []
    for aaa in segments or []:
        reason, action = _value(aaa.reject_reason_code), _value(aaa.follow_up_action_code)
        notes.append(str(_l("%(reason)s (%(code)s). Follow-up: %(action)s (%(action_code)s).",
                            reason=REJECT_REASONS.get(reason, _l("Rejected")), code=reason,
                            action=FOLLOW_UP_ACTIONS.get(action, _l("none given")), action_code=action)))
    return " ".join(notes)


def _amount(benefits, code, remaining=False):
    """EB07 of the first EB with EB01 `code` (and EB06 29 when `remaining`), in-network preferred."""
    found = [eb for eb in benefits if _value(eb.eligibility_benefit_information) == code
             and eb.benefit_amount is not None
             and (not remaining or _value(eb.time_period_qualifier) == REMAINING)]
    found.sort(key=lambda eb: (_value(eb.inplan_network_indicator) != "Y",
                               _value(eb.coverage_level_code) not in (None, "IND")))
    return found[0].benefit_amount.quantize(_CENT) if found else None


def _answer(trace, benefits, rejections):
    if rejections:
        return Answer(trace, "error", notes=rejections[:1000])
    codes = {_value(eb.eligibility_benefit_information) for eb in benefits}
    result = "active" if ACTIVE in codes else "inactive" if INACTIVE in codes else "unknown"
    return Answer(trace, result, copay=_amount(benefits, "B"), deductible_remaining=_amount(benefits, "C", True),
                  out_of_pocket_remaining=_amount(benefits, "G", True))


def _traces(trn_segments):
    return [t.reference_identification_1 for t in trn_segments or [] if _value(t.trace_type_code) == "2"]


def answers_from_271(models):
    """Every (trace number -> Answer) in parsed EligibilityBenefit models; AAA above a member applies to it."""
    answers = []
    for model in models:
        for source in model.loop_2000a:
            above_source = [*(source.aaa_segment or []), *(source.loop_2100a.aaa_segment or [])]
            for receiver in source.loop_2000b or []:
                above = above_source + list(receiver.loop_2100b.aaa_segment or [])
                for sub in receiver.loop_2000c or []:
                    name = sub.loop_2100c
                    sub_aaa = above + list(name.aaa_segment or [])
                    sub_benefits = [loop.eb_segment for loop in name.loop_2110c or []]
                    sub_aaa += [a for loop in name.loop_2110c or [] for a in loop.aaa_segment or []]
                    dependents = sub.loop_2000d or []
                    if not dependents:
                        answers += [_answer(t, sub_benefits, _aaa_note(sub_aaa)) for t in _traces(sub.trn_segment)]
                    for dep in dependents:
                        dname = dep.loop_2100d
                        dep_aaa = sub_aaa + list(dname.aaa_segment or [])
                        dep_aaa += [a for loop in dname.loop_2110d or [] for a in loop.aaa_segment or []]
                        benefits = [loop.eb_segment for loop in dname.loop_2110d or []] or sub_benefits
                        traces = _traces(dep.trn_segment) or _traces(sub.trn_segment)
                        answers += [_answer(t, benefits, _aaa_note(dep_aaa)) for t in traces]
    return answers


@lru_cache(maxsize=None)
def _eligibility_benefit_model():
    """x12sdk's 271 model with the guide's AAA03 code list in the subscriber/dependent name loops.

    Workaround for x12sdk 2.2.0: its Loop2100C and Loop2100D type their AAA as Loop2100BAaaSegment
    ("identical to Loop2100B AAA"), i.e. the information receiver's codes, so a valid 271 saying
    AAA*N**75*C (subscriber not found, 005010X279A1 section 2100C/2100D AAA03) is refused. These
    subclasses only retype that one field (and the loops that contain it); every other check of
    x12sdk still applies. They are used for the parsers read_271 creates, nothing else in the process.
    """
    from typing import List, Optional

    from pydantic import Field
    from x12sdk.v5010.segments import AaaSegment
    from x12sdk.v5010.x12_271_005010X279A1 import loops as L
    from x12sdk.v5010.x12_271_005010X279A1.transaction_set import EligibilityBenefit

    member_codes = Enum("RejectReasonCode", {f"CODE_{code}": code for code in MEMBER_REJECT_CODES}, type=str)

    class MemberAaaSegment(AaaSegment):
        reject_reason_code: member_codes
        follow_up_action_code: L.Loop2100BAaaSegment.FollowUpActionCode

    aaa_field = Optional[List[MemberAaaSegment]]

    class Loop2100C(L.Loop2100C):
        aaa_segment: aaa_field = Field(None, min_length=0, max_length=9)

    class Loop2100D(L.Loop2100D):
        aaa_segment: aaa_field = Field(None, min_length=0, max_length=9)

    class Loop2000D(L.Loop2000D):
        loop_2100d: Loop2100D

    class Loop2000C(L.Loop2000C):
        loop_2100c: Loop2100C
        loop_2000d: Optional[List[Loop2000D]] = Field(None, min_length=0)

    class Loop2000B(L.Loop2000B):
        loop_2000c: Optional[List[Loop2000C]] = None

    class Loop2000A(L.Loop2000A):
        loop_2000b: List[Loop2000B] = Field(default_factory=list, min_length=0)

    class MemberAaaEligibilityBenefit(EligibilityBenefit):
        loop_2000a: List[Loop2000A]

    return MemberAaaEligibilityBenefit


def _read_models(text):
    """X12ModelReader.models() of x12sdk 2.2.0, with _eligibility_benefit_model() for 271s.

    x12sdk has no option or hook for the model a parser builds, so the parser of each 271 transaction
    is given ours (its _transaction_model, set in X12Parser.__init__): scoped to this read only.
    """
    from x12sdk.io import X12SegmentReader
    from x12sdk.parsing import create_parser
    from x12sdk.v5010.x12_271_005010X279A1.transaction_set import EligibilityBenefit

    models, version, parser = [], None, None
    with X12SegmentReader(text) as reader:
        for name, fields in reader.segments():
            if name == "GS":
                version = fields[8]
            if name in ("ISA", "GS", "GE", "IEA"):
                continue
            if name == "ST":
                parser = create_parser(fields[1], version or fields[3], reader.delimiters)
                if parser._transaction_model is EligibilityBenefit:
                    parser._transaction_model = _eligibility_benefit_model()
            if parser is None:
                raise ValueError(f"segment {name} outside a transaction set")
            model = parser.parse(name, fields)
            if model:
                models.append(model)
    return models


def parse_271(text):
    """The EligibilityBenefit models of a 271 file; X12FileError (nothing read) when it is not one."""
    from x12sdk.parsing import X12ParseException
    from x12sdk.v5010.x12_271_005010X279A1.transaction_set import EligibilityBenefit

    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise X12FileError(_l("The file is not an X12 271 eligibility response: it is not plain ASCII text."))
    text = (text or "").replace("\r", "").strip()
    if not text.startswith("ISA") or len(text) < 106:
        raise X12FileError(_l("The file is not an X12 271 eligibility response: it does not start with ISA."))
    try:
        models = _read_models(text)
    except (ValueError, X12ParseException, KeyError, IndexError, AttributeError, TypeError, ImportError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise X12FileError(_l("The file is not a valid X12 271 eligibility response: %(reason)s",
                              reason=reason)) from None
    if not models or not all(isinstance(m, EligibilityBenefit) for m in models):
        raise X12FileError(_l("The file is not an X12 271 eligibility response (005010X279A1)."))
    return models


def read_271(session, text):
    """Apply a 271 to the pending checks its TRN*2 trace numbers name; all or nothing.

    Unknown traces (or ones answered already) are reported and change nothing.
    """
    answers = answers_from_271(parse_271(text))
    traces = {a.trace for a in answers}
    pending = {c.trace_number: c for c in session.scalars(
        select(EligibilityCheck).where(EligibilityCheck.trace_number.in_(traces), EligibilityCheck.method == "x12",
                                       EligibilityCheck.result == "pending"))} if traces else {}
    summary = Summary()
    for answer in answers:
        check = pending.pop(answer.trace, None)
        if check is None:
            summary.unknown.append(answer.trace)
            continue
        check.result = answer.result
        check.copay = answer.copay
        check.deductible_remaining = answer.deductible_remaining
        check.out_of_pocket_remaining = answer.out_of_pocket_remaining
        check.notes = answer.notes
        summary.updated.append(check)
    session.commit()
    return summary

