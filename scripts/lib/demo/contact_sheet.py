"""A PNG contact sheet: evenly spaced annotated frames in a grid, each labelled with its seq."""

from typing import List, Sequence

import cv2
import numpy as np

from demo.frame_index import DrawnFrame

COLUMNS, ROWS = 4, 3
TILE_WIDTH = 384
CAPTION_HEIGHT = 24


def pick_evenly(frames: Sequence[DrawnFrame], count: int) -> List[DrawnFrame]:
    """`count` frames spread over the whole run, first and last included (all when there are fewer)."""
    if len(frames) <= count:
        return list(frames)
    step = (len(frames) - 1) / (count - 1)
    return [frames[round(index * step)] for index in range(count)]


def write_contact_sheet(frames: Sequence[DrawnFrame], path: str) -> int:
    """Write the sheet; returns how many frames it shows."""
    chosen = pick_evenly(frames, COLUMNS * ROWS)
    if not chosen:
        raise ValueError("no annotated frames for a contact sheet")
    tile_height = round(TILE_WIDTH * chosen[0].height / chosen[0].width)
    cell_height = tile_height + CAPTION_HEIGHT
    sheet = np.full((ROWS * cell_height, COLUMNS * TILE_WIDTH, 3), 255, dtype=np.uint8)
    for position, frame in enumerate(chosen):
        image = cv2.imread(frame.path, cv2.IMREAD_COLOR)
        if image is None:
            raise RuntimeError(f"cannot read {frame.path}")
        row, column = divmod(position, COLUMNS)
        top, left = row * cell_height, column * TILE_WIDTH
        sheet[top:top + tile_height, left:left + TILE_WIDTH] = cv2.resize(
            image, (TILE_WIDTH, tile_height), interpolation=cv2.INTER_AREA)
        caption = f"seq {frame.seq} - {len(frame.prediction)} boxes"
        cv2.putText(sheet, caption, (left + 6, top + tile_height + 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
    if not cv2.imwrite(path, sheet):
        raise RuntimeError(f"cannot write {path}")
    return len(chosen)
