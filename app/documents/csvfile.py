"""CSV for spreadsheets: UTF-8 with BOM, and no cell a spreadsheet would run as a formula."""
import csv
import io

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Prefix text a spreadsheet would treat as a formula with an apostrophe (CSV injection)."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def to_csv(headers, rows):
    """Bytes of a CSV file with a BOM so Excel reads UTF-8 (Arabic, Chinese, accents)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in headers])
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
