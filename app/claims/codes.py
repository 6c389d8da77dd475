"""Common Claim Adjustment Reason Codes (CARC), Remittance Advice Remark Codes (RARC) and the
CAS group codes, with their published texts (X12 / WPC code lists; shown as published, never
translated). Only the codes a small practice meets every week: an unknown code is shown as is.
"""

GROUPS = {
    "CO": "Contractual Obligations",
    "PR": "Patient Responsibility",
    "OA": "Other Adjustments",
    "PI": "Payor Initiated Reductions",
    "CR": "Corrections and Reversals",
}

CARC = {
    "1": "Deductible Amount",
    "2": "Coinsurance Amount",
    "3": "Co-payment Amount",
    "4": "The procedure code is inconsistent with the modifier used.",
    "5": "The procedure code/type of bill is inconsistent with the place of service.",
    "6": "The procedure/revenue code is inconsistent with the patient's age.",
    "7": "The procedure/revenue code is inconsistent with the patient's gender.",
    "8": "The procedure code is inconsistent with the provider type/specialty (taxonomy).",
    "9": "The diagnosis is inconsistent with the patient's age.",
    "10": "The diagnosis is inconsistent with the patient's gender.",
    "11": "The diagnosis is inconsistent with the procedure.",
    "16": "Claim/service lacks information or has submission/billing error(s).",
    "18": "Exact duplicate claim/service.",
    "19": "This is a work-related injury/illness and thus the liability of the Worker's Compensation Carrier.",
    "22": "This care may be covered by another payer per coordination of benefits.",
    "23": "The impact of prior payer(s) adjudication including payments and/or adjustments.",
    "24": "Charges are covered under a capitation agreement/managed care plan.",
    "26": "Expenses incurred prior to coverage.",
    "27": "Expenses incurred after coverage terminated.",
    "29": "The time limit for filing has expired.",
    "31": "Patient cannot be identified as our insured.",
    "32": "Our records indicate the patient is not an eligible dependent.",
    "45": "Charge exceeds fee schedule/maximum allowable or contracted/legislated fee arrangement.",
    "49": "This is a non-covered service because it is a routine/preventive exam or a diagnostic/screening "
          "procedure done in conjunction with a routine/preventive exam.",
    "50": "These are non-covered services because this is not deemed a 'medical necessity' by the payer.",
    "96": "Non-covered charge(s).",
    "97": "The benefit for this service is included in the payment/allowance for another service/procedure "
          "that has already been adjudicated.",
    "109": "Claim/service not covered by this payer/contractor. You must send the claim/service to the correct "
           "payer/contractor.",
    "119": "Benefit maximum for this time period or occurrence has been reached.",
    "151": "Payment adjusted because the payer deems the information submitted does not support this many or "
           "frequency of services.",
    "167": "This (these) diagnosis(es) is (are) not covered.",
    "170": "Payment is denied when performed/billed by this type of provider.",
    "181": "Procedure code was invalid on the date of service.",
    "182": "Procedure modifier was invalid on the date of service.",
    "197": "Precertification/authorization/notification/pre-treatment absent.",
    "198": "Precertification/notification/authorization/pre-treatment exceeded.",
    "204": "This service/equipment/drug is not covered under the patient's current benefit plan.",
    "226": "Information requested from the Billing/Rendering Provider was not provided or not provided timely "
           "or was insufficient/incomplete.",
    "236": "This procedure or procedure/modifier combination is not compatible with another procedure or "
           "procedure/modifier combination provided on the same day according to the National Correct Coding "
           "Initiative or workers compensation state regulations/fee schedule requirements.",
    "242": "Services not provided by network/primary care providers.",
    "252": "An attachment/other documentation is required to adjudicate this claim/service.",
    "253": "Sequestration - reduction in federal payment.",
}

# Reasons that, with nothing paid, mean the payer denied the claim (not just "the patient pays it").
DENIAL_CARC = frozenset({
    "4", "5", "6", "7", "8", "9", "10", "11", "16", "18", "19", "22", "26", "27", "29", "31", "32", "49", "50",
    "96", "97", "109", "119", "151", "167", "170", "181", "182", "197", "198", "204", "226", "236", "242", "252",
})

RARC = {
    "M15": "Separately billed services/tests have been bundled as they are considered components of the same "
           "procedure. Separate payment is not allowed.",
    "M20": "Missing/incomplete/invalid HCPCS.",
    "M51": "Missing/incomplete/invalid procedure code(s).",
    "M76": "Missing/incomplete/invalid diagnosis or condition.",
    "M77": "Missing/incomplete/invalid/inappropriate place of service.",
    "M80": "Not covered when performed during the same session/date as a previously processed service for the "
           "patient.",
    "M86": "Service denied because payment already made for same/similar procedure within set time frame.",
    "MA01": "Alert: If you do not agree with what we approved for these services, you may appeal our decision.",
    "MA04": "Secondary payment cannot be considered without the identity of or payment information from the "
            "primary payer.",
    "MA18": "Alert: The claim information is also being forwarded to the patient's supplemental insurer.",
    "MA130": "Your claim contains incomplete and/or invalid information, and no appeal rights are afforded "
             "because the claim is unprocessable.",
    "N4": "Missing/Incomplete/Invalid prior Insurance Carrier(s) EOB.",
    "N30": "Patient ineligible for this service.",
    "N54": "Claim information is inconsistent with pre-certified/authorized services.",
    "N56": "Procedure code billed is not correct/valid for the services billed or the date of service billed.",
    "N130": "Consult plan benefit documents/guidelines for information about restrictions for this service.",
    "N179": "Additional information has been requested from the member.",
    "N290": "Missing/incomplete/invalid rendering provider primary identifier.",
    "N362": "The number of Days or Units of Service exceeds our acceptable maximum.",
    "N386": "This decision was based on a National Coverage Determination (NCD).",
    "N425": "Statutorily excluded service(s).",
    "N432": "Adjustment based on a Recovery Audit.",
    "N479": "Missing Explanation of Benefits (Coordination of Benefits or Medicare Secondary Payer).",
    "N522": "Duplicate of a claim processed, or to be processed, as a crossover claim.",
    "N657": "This should be billed with the appropriate code for these services.",
}


def carc_text(code):
    return CARC.get((code or "").strip().upper().lstrip("0") or "0", "")


def rarc_text(code):
    return RARC.get((code or "").strip().upper(), "")


def describe_adjustment(group, reason):
    """'CO-45: Charge exceeds fee schedule...' (the code alone when its text is not in the table)."""
    label = f"{(group or '').upper()}-{reason}"
    text = carc_text(reason)
    return f"{label}: {text}" if text else label


def describe_remark(code):
    text = rarc_text(code)
    return f"{code}: {text}" if text else code


# PLB03-1: provider-level adjustment reasons (835 PLB, X12 005010X221A1 code list). A positive amount is taken
# from the payment, a negative one added to it.
PLB_REASONS = {
    "50": "Late Charge",
    "51": "Interest Penalty Charge",
    "72": "Authorized Return",
    "90": "Early Payment Allowance",
    "AH": "Origination Fee",
    "AM": "Applied to Borrower's Account",
    "AP": "Acceleration of Benefits",
    "B2": "Rebate",
    "B3": "Recovery Allowance",
    "BD": "Bad Debt Adjustment",
    "BN": "Bonus",
    "C5": "Temporary Allowance",
    "CR": "Capitation Interest",
    "CS": "Adjustment",
    "CT": "Capitation Payment",
    "CV": "Capital Passthru",
    "CW": "Certified Registered Nurse Anesthetist Passthru",
    "DM": "Direct Medical Education Passthru",
    "E3": "Withholding",
    "FB": "Forwarding Balance",
    "FC": "Fund Allocation",
    "GO": "Graduate Medical Education Passthru",
    "HM": "Hemophilia Clotting Factor Supplement",
    "IP": "Incentive Premium Payment",
    "IR": "Internal Revenue Service Withholding",
    "IS": "Interim Settlement",
    "J1": "Nonreimbursable",
    "L3": "Penalty",
    "L6": "Interest Owed",
    "LE": "Levy",
    "LS": "Lump Sum",
    "OA": "Organ Acquisition Passthru",
    "OB": "Offset for Affiliated Providers",
    "PI": "Periodic Interim Payment",
    "PL": "Payment Final",
    "RA": "Retro-activity Adjustment",
    "RE": "Return on Equity",
    "SL": "Student Loan Repayment",
    "TL": "Third Party Liability",
    "WO": "Overpayment Recovery",
    "WU": "Unspecified Recovery",
}


def plb_text(code):
    return PLB_REASONS.get((code or "").strip().upper(), "")


def describe_provider_adjustment(code):
    """'WO: Overpayment Recovery' (the code alone when its text is not in the table)."""
    code = (code or "").strip().upper()
    text = plb_text(code)
    return f"{code}: {text}" if text else code
