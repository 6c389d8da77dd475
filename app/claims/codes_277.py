"""Readable texts of common X12 code lists used in claim acknowledgements.

277CA STC01 (Health Care Claim Status Category Codes, code list 507, and Claim Status Codes, list
508, both maintained by the X12 External Code Source 507/508 committee) and the 999's IK3/IK4/IK5/AK9
error codes (X12 5010 element codes 620, 621, 718, 716). These are public code lists; like the
CARC/RARC texts they are shown as published and not translated. Unknown codes are shown as the code.
"""

# STC01-1: claim status category (507). Accepted categories move a submitted claim to accepted,
# rejected ones to rejected; A0/A1 (forwarded, received) say nothing yet.
CATEGORIES = {
    "A0": "Acknowledgement/Forwarded - The claim/encounter has been forwarded to another entity.",
    "A1": "Acknowledgement/Receipt - The claim/encounter has been received. This does not mean that the "
          "claim has been accepted for adjudication.",
    "A2": "Acknowledgement/Acceptance into adjudication system - The claim/encounter has been accepted "
          "into the adjudication system.",
    "A3": "Acknowledgement/Returned as unprocessable claim - The claim/encounter has been rejected and has "
          "not been entered into the adjudication system.",
    "A4": "Acknowledgement/Not Found - The claim/encounter can not be found in the adjudication system.",
    "A5": "Acknowledgement/Split Claim - The claim/encounter has been split upon acceptance into the "
          "adjudication system.",
    "A6": "Acknowledgement/Rejected for Missing Information - The claim/encounter is missing the "
          "information specified in the Status details and has been rejected.",
    "A7": "Acknowledgement/Rejected for Invalid Information - The claim/encounter has invalid information "
          "as specified in the Status details and has been rejected.",
    "A8": "Acknowledgement/Rejected for relational field in error.",
}
ACCEPTED_CATEGORIES = ("A2", "A5")
REJECTED_CATEGORIES = ("A3", "A4", "A6", "A7", "A8")
INFORMATIONAL_CATEGORIES = ("A0", "A1")

# STC01-2: claim status code (508), the common ones on 277CA responses.
STATUS_CODES = {
    "0": "Cannot provide further status electronically.",
    "1": "For more detailed information, see remittance advice.",
    "3": "Claim has been adjudicated and is awaiting payment cycle.",
    "16": "Claim/encounter has been forwarded to entity.",
    "19": "Entity acknowledges receipt of claim/encounter.",
    "20": "Accepted for processing.",
    "21": "Missing or invalid information.",
    "23": "Returned to Entity.",
    "24": "Entity not approved as an electronic submitter.",
    "25": "Entity not approved.",
    "26": "Entity not found.",
    "27": "Policy canceled.",
    "29": "Subscriber and policy number/contract number mismatched.",
    "30": "Subscriber and subscriber id mismatched.",
    "31": "Subscriber and policyholder name mismatched.",
    "32": "Subscriber and policy number/contract number not found.",
    "33": "Subscriber and subscriber id not found.",
    "34": "Subscriber and policyholder name not found.",
    "35": "Claim/encounter not found.",
    "96": "No agreement with entity.",
    "97": "Patient eligibility not found with entity.",
    "109": "Entity not eligible.",
    "116": "Claim submitted to incorrect payer.",
    "145": "Entity's primary identifier.",
    "158": "Entity's date of birth.",
    "187": "Date(s) of service.",
    "254": "Principal diagnosis code.",
    "255": "Diagnosis code.",
    "454": "Procedure code for services rendered.",
    "562": "Entity's National Provider Identifier (NPI).",
}

# STC01-3: entity identifier (98) the status speaks of.
ENTITIES = {
    "PR": "Payer", "41": "Submitter", "40": "Receiver", "85": "Billing Provider", "82": "Rendering Provider",
    "77": "Service Location", "IL": "Insured or Subscriber", "QC": "Patient", "1P": "Provider",
}

# 999 IK304: implementation segment syntax error codes (620).
SEGMENT_ERRORS = {
    "1": "Unrecognized segment ID", "2": "Unexpected segment", "3": "Required segment missing",
    "4": "Loop occurs over maximum times", "5": "Segment exceeds maximum use",
    "6": "Segment not in defined transaction set", "7": "Segment not in proper sequence",
    "8": "Segment has data element errors", "I4": "Implementation \"Not Used\" segment present",
    "I6": "Implementation dependent segment missing", "I7": "Implementation loop occurs under minimum times",
    "I8": "Implementation segment below minimum use", "I9": "Implementation dependent \"Not Used\" segment present",
}
# 999 IK403: implementation data element syntax error codes (621).
ELEMENT_ERRORS = {
    "1": "Required data element missing", "2": "Conditional required data element missing",
    "3": "Too many data elements", "4": "Data element too short", "5": "Data element too long",
    "6": "Invalid character in data element", "7": "Invalid code value", "8": "Invalid date",
    "9": "Invalid time", "10": "Exclusion condition violated", "12": "Too many repetitions",
    "13": "Too many components", "I6": "Code value not used in implementation",
    "I9": "Implementation dependent data element missing", "I10": "Implementation \"Not Used\" data element present",
    "I11": "Implementation too few repetitions", "I12": "Implementation pattern match failure",
    "I13": "Implementation dependent \"Not Used\" data element present",
}
# 999 IK502 / AK904: transaction set and functional group syntax error codes (718, 716).
SET_ERRORS = {
    "1": "Transaction set not supported", "2": "Transaction set trailer missing",
    "3": "Transaction set control number in header and trailer do not match",
    "4": "Number of included segments does not match actual count", "5": "One or more segments in error",
    "6": "Missing or invalid transaction set identifier", "7": "Missing or invalid transaction set control number",
    "23": "Transaction set control number not unique within the functional group",
    "I5": "Implementation one or more segments in error",
    "I6": "Implementation convention not supported",
}


def category_text(code):
    return CATEGORIES.get(code, code)


def status_text(code):
    return STATUS_CODES.get(code, code)


def stc_reason(category, status, entity=None):
    """One STC composite as a readable line: "A7:562:85 Acknowledgement/Rejected for Invalid ... -
    Entity's National Provider Identifier (NPI). (Billing Provider)"."""
    codes = ":".join(c for c in (category, status, entity) if c)
    text = CATEGORIES.get(category, category or "")
    if status:
        text += " - " + STATUS_CODES.get(status, status)
    if entity:
        text += f" ({ENTITIES.get(entity, entity)})"
    return f"{codes} {text}".strip()
