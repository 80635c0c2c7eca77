"""`labels.txt`: one class name per line, the line index (from 0) is the class id.

A blank line keeps the numbering and leaves that id without a name.
"""

from typing import Dict


def read_labels(path: str) -> Dict[int, str]:
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    labels = {}
    for class_id, line in enumerate(text.splitlines()):
        name = line.strip()
        if name:
            labels[class_id] = name
    return labels
