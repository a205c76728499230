"""A message made ready for reading: spaces folded, politeness and fillers taken off both
ends ("hey, could you please ...", "... thanks!"), and a command word typed with one slip
("creat", "remnd", "cuold", "dno't") put right with an edit distance (rapidfuzz), so the
recognisers in `readings` see what the user meant to type.
"""

from __future__ import annotations

import re

from rapidfuzz.distance import OSA

_POLITE = re.compile(
    r"^(?:(?:hey|hi|ok|okay|so|and|also|now|then|please|pls|plz|kindly|alright|actually|oh|"
    r"um|hmm|well|right|sorry|oops|wait|yes|yeah|never\s+mind|nevermind|scratch\s+that)\b[,!.]?\s*|"
    r"(?:no|nope)\s*[,!.]\s*|"
    r"(?:can|could|would|will)\s+you\s+(?:please\s+|pls\s+|kindly\s+|maybe\s+)?|"
    r"would\s+you\s+mind\s+|i(?:'d| would)\s+like\s+(?:you\s+)?to\s+|go\s+ahead\s+and\s+)+",
    re.I,
)
_TAIL = re.compile(
    r"(?:[\s,]+(?:please|pls|thanks|thank\s+you|thx|instead|for\s+me))+[\s.!?]*$", re.I
)
_COMMANDS = ("create", "remind", "schedule", "delete", "remove", "complete", "rename", "please",
             "could", "don't", "forget")  # fmt: skip
_ADD_TYPO = re.compile(r"^(?:ad|adde|addd)\s+(?=(?:a|an|the|new|me|this|these|task)\b)", re.I)


def _fix_typos(text: str) -> str:
    """A command word with one slip ("creat", "remnd", "plaese") becomes that word."""
    text = _ADD_TYPO.sub("add ", text)
    words = text.split(" ")
    for i, word in enumerate(words[:2]):
        low = word.lower()
        if len(low) < 4 or low.startswith(_COMMANDS) or not low.replace("'", "").isalpha():
            continue  # too short to tell, or the command itself inflected ("completed")
        bare = low.replace("'", "")
        near = [
            c
            for c in _COMMANDS
            if ("'" in c) == ("'" in low)
            and OSA.distance(bare, c.replace("'", "")) <= 1
            and abs(len(c) - len(low)) <= 1
        ]
        if len(near) == 1:
            words[i] = near[0]
    return " ".join(words)


def normalise(message: str) -> str:
    """Spaces folded, politeness and fillers off both ends, command typos fixed."""
    text = re.sub(r"\s+", " ", message).strip()
    for _ in range(2):
        text = _fix_typos(text)
        text = _POLITE.sub("", text).strip()
    return _TAIL.sub("", text).strip()


__all__ = ["normalise"]
