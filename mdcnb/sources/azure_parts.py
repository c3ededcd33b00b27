"""The part files of one Azure pull: each job writes its rows as one part file per record type
(`<record_type>/<key>.<rows>.jsonl`, `PartWriter`), and `join_parts` concatenates each record type's parts in job
order into the dataset's file, so the dataset is the same whatever order the jobs ran in."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from mdcnb.sources.dataset import RECORD_TYPES, record_path


class PartWriter:
    """Rows of one job, one part file per record type: `<record_type>/<key>.<rows>.jsonl` once closed."""

    def __init__(self, parts: Path, key: tuple[int, ...]) -> None:
        self.parts = parts
        self.stem = "-".join(f"{k:06d}" for k in key)
        self.files: dict[str, Any] = {}
        self.counts: Counter[str] = Counter()

    def write(self, record_type: str, row: dict[str, Any]) -> None:
        fh = self.files.get(record_type)
        if fh is None:
            (self.parts / record_type).mkdir(exist_ok=True)
            fh = self.files[record_type] = (self.parts / record_type / f"{self.stem}.open").open("wb")
        fh.write(orjson.dumps(row))
        fh.write(b"\n")
        self.counts[record_type] += 1

    def close(self) -> None:
        for record_type, fh in self.files.items():
            fh.close()
            Path(fh.name).rename(self.parts / record_type / f"{self.stem}.{self.counts[record_type]}.jsonl")
        self.files.clear()

    def discard(self) -> None:
        for fh in self.files.values():
            fh.close()
            Path(fh.name).unlink()
        self.files.clear()


def join_parts(parts: Path, out: Path) -> dict[str, int]:
    """Concatenate each record type's parts in job order into its dataset file (atomic rename)."""
    counts: dict[str, int] = {}
    for record_type in RECORD_TYPES:
        folder = parts / record_type
        files = sorted(folder.glob("*.jsonl"), key=_part_order) if folder.exists() else []
        target = record_path(out, record_type)
        tmp = target.with_suffix(".jsonl.tmp")
        lines = 0
        with tmp.open("wb") as dst:
            for part in files:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
                lines += int(part.name.split(".")[1])
        os.replace(tmp, target)
        counts[record_type] = lines
    return counts


def _part_order(path: Path) -> tuple[int, ...]:
    return tuple(int(k) for k in path.name.split(".")[0].split("-"))
