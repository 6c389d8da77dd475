"""Luhn check digits (MRNs, NPIs)."""


def luhn_check_digit(digits):
    """The digit that makes `digits` + digit pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # doubled positions, counted from the check digit's left
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number):
    return number.isdigit() and len(number) > 1 and luhn_check_digit(number[:-1]) == number[-1]


def npi_valid(npi):
    """An NPI is 10 digits whose Luhn check runs over the prefix 80840 + the first 9."""
    return bool(npi) and len(npi) == 10 and npi.isdigit() and luhn_check_digit("80840" + npi[:9]) == npi[9]
