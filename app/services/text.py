"""Text folding for accent- and case-insensitive matching."""
import re
import unicodedata

# Letters that carry no combining mark in NFKD but are read as their base letter.
_FOLD_SPECIAL = str.maketrans(
    {
        "đ": "d", "Đ": "d", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "æ": "ae", "Æ": "ae",
        "œ": "oe", "Œ": "oe", "ß": "ss", "ı": "i", "þ": "th", "Þ": "th", "ð": "d", "Ð": "d",
        "'": "", "’": "", "ʼ": "", "`": "",
    }
)
_SPLIT = re.compile(r"[\W_]+", re.UNICODE)
TERM_MAX = 64


def fold(text):
    """Lower-case, accent-free form of text ("José Ñúñez" -> "jose nunez")."""
    if not text:
        return ""
    text = text.translate(_FOLD_SPECIAL)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(text):
    """Folded word tokens of text, each at most TERM_MAX characters."""
    return [t[:TERM_MAX] for t in _SPLIT.split(fold(text)) if t]


def prefix_upper_bound(prefix):
    """Smallest string greater than every string starting with prefix (code-point order)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
