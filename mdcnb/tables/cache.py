"""A cache of normalised tables for big datasets, so the notebooks of one report (each loading the same
dataset) normalise a million assessments once, not once per notebook.

A cache entry is a folder in the user's cache directory (`$MDCNB_CACHE_DIR`, else platformdirs' user cache dir),
named by a key over the content of the dataset's record files and manifest (the SHA-256 of each, remembered per
file by its path, size, modification and change times and inode, so an unchanged file is hashed once) and the source
of the code that produces the tables; a dataset copied elsewhere finds the same entry, any change of content makes a
new one. A dataset no entry can match (none was made from files of its names and sizes) is hashed while it is
normalised, not before. The entry holds one Parquet file per table with rows, written and read by DuckDB, and
`entry.json` (rows per table, the dataset's manifest, the sizes of its files). Every text, list or JSON column is
stored as integer codes into its distinct values, which a second file holds (`<table>.values.parquet`: the column's
number in the contract, code, value; lists and objects as JSON text): a million assessments repeat a few hundred
ids, names and states, so an entry is small and a read makes one object per
distinct value. A reader that needs a few tables (`load_tables(names=...)`) reads only their files. Only datasets
whose record files hold more than `MIN_BYTES` are cached (small ones load faster than a cache lookup pays off), at
most `KEEP` entries are kept, and `MDCNB_TABLE_CACHE=off` turns caching off. The cache holds only what the dataset
holds (no credential), readable by its owner only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import orjson
import pandas as pd

from mdcnb import __version__
from mdcnb.core import duck, schema
from mdcnb.normalize import Coded, Codes
from mdcnb.sources.dataset import MANIFEST, RECORD_TYPES, existing_record_path

if TYPE_CHECKING:
    from mdcnb.tables import Tables

MIN_BYTES = 32 * 1024 * 1024
KEEP = 8
FORMAT = 2
ENTRY = "entry.json"
HASHES = "hashes.json"  # path -> [size, mtime_ns, ctime_ns, inode, sha256] of the files hashed before
_PACKAGE = Path(__file__).resolve().parents[1]
# The code whose change changes the tables of an unchanged dataset.
_CODE = ("core/schema", "sources/dataset.py", "tables/__init__.py", "tables/cache.py", "normalize")
_CODED = (schema.STRING, schema.LIST, schema.JSON)  # stored as codes into distinct values
_DTYPE = {dtype: schema.PANDAS_DTYPE[dtype] for dtype in _CODED}


def cache_dir() -> Path:
    configured = os.environ.get("MDCNB_CACHE_DIR")
    if configured:
        return Path(configured)
    import platformdirs

    return platformdirs.user_cache_path("mdcnb") / "tables"


def _code_digest() -> str:
    digest = hashlib.sha256(f"{__version__}:{FORMAT}".encode())
    for name in _CODE:
        path = _PACKAGE / name
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def record_files(dataset: Path) -> list[Path]:
    """The files whose content the tables come from: the record files and the manifest."""
    files = [p for p in (existing_record_path(dataset, t) for t in RECORD_TYPES) if p is not None and p.is_file()]
    manifest = dataset / MANIFEST
    return [*files, manifest] if manifest.is_file() else files


def cache_key(files: list[Path], hashes: dict[str, Any]) -> str:
    """The cache key of a dataset's `record_files`: the code's digest and each file's SHA-256, in the files' order
    (`hashes`: the memo of `_content_digest`, updated with the files hashed)."""
    digest = hashlib.sha256(_code_digest().encode())
    for path in files:
        digest.update(f"{path.name}:{_content_digest(path, hashes)}".encode())
    return digest.hexdigest()[:32]


def file_signature(path: Path) -> list[int]:
    """What changes whenever a file's content may have: its size, modification and change times and inode (a user
    cannot set the change time back), so a hash remembered with it is still the file's."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def read_memo(name: str) -> dict[str, Any]:
    """A JSON memo of hashes kept in the cache directory; empty when missing or unreadable (it only saves work)."""
    try:
        known = orjson.loads((cache_dir() / name).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return known if isinstance(known, dict) else {}


def write_memo(name: str, memo: dict[str, Any]) -> None:
    """Replace a memo of `read_memo` (owner-only, atomically); a cache directory that cannot be written is passed
    over."""
    try:
        _private_file(cache_dir() / name, orjson.dumps(memo))
    except OSError:
        return


def _content_digest(path: Path, known: dict[str, Any]) -> str:
    """The SHA-256 of a file, hashed again only when its size, times or inode changed since it was last hashed."""
    signature = file_signature(path)
    remembered = _remembered(path, signature, known)
    if remembered is not None:
        return remembered
    known[str(path.resolve())] = [*signature, hashed := _file_sha256(path)]
    return hashed


def _file_sha256(path: Path) -> str:
    """A file's SHA-256, read in blocks of 4 MiB: reading and hashing a block let go of the GIL, and a big block
    takes it back seldom (hashlib.file_digest's 256 KiB blocks took it 16 times as often, slowing a thread that
    hashes beside a busy one about twice as much). Each block is read into the same buffer: a new 4 MiB object per
    block cost its pages anew (2.2 GB of record files: 1.9 s CPU with new blocks, 1.75 s with one buffer)."""
    digest = hashlib.sha256()
    block = bytearray(1 << 22)
    view = memoryview(block)
    with path.open("rb", buffering=0) as fh:
        while read := fh.readinto(block):
            digest.update(view[:read])
    return digest.hexdigest()


def _remembered(path: Path, signature: list[int], known: dict[str, Any]) -> str | None:
    """The SHA-256 the memo `known` holds for a file with this signature, or None."""
    entry = known.get(str(path.resolve()))
    return str(entry[4]) if isinstance(entry, list) and entry[:4] == signature else None


def _private_file(path: Path, data: bytes) -> None:
    """Write `data` atomically to an owner-only file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def cached(dataset: Path, build: Callable[[], tuple[Tables, Codes]], names: Collection[str] | None = None) -> Tables:
    """The tables of `dataset` (only `names` when given, the others empty) from the cache, or those `build()` gives
    stored in the cache when worth it (with the codes it gives, which are written as they are).

    When the files are not all in the memo of hashes and no entry was made from files of their names and sizes, no
    entry can match: the files are hashed in a thread while `build()` runs (hashlib and file reads release the GIL),
    not before it. Tables are stored only when no file changed (by its signature) between the start and the end."""
    if os.environ.get("MDCNB_TABLE_CACHE", "").lower() in ("off", "0", "no"):
        return build()[0].only(names)
    files = record_files(dataset)
    signatures = [file_signature(p) for p in files]
    if sum(s[0] for s in signatures) < MIN_BYTES:
        return build()[0].only(names)
    sizes = {p.name: s[0] for p, s in zip(files, signatures, strict=True)}
    hashes = read_memo(HASHES)
    if _all_known(files, signatures, hashes) or _may_hit(sizes):
        key = cache_key(files, hashes)
        try:
            return _read(cache_dir() / key, dataset, names)
        except (OSError, ValueError, KeyError, TypeError, IndexError, duckdb.Error):
            pass  # no entry yet, or a damaged one: rebuild it
        tables, codes = build()
    else:
        with ThreadPoolExecutor(1) as hasher:
            hashed = hasher.submit(cache_key, files, hashes)
            tables, codes = build()
            key = hashed.result()
    if [file_signature(p) for p in files] == signatures:  # else a file changed while read: neither is kept
        write_memo(HASHES, hashes)
        _store(cache_dir() / key, tables, sizes, codes)
    return tables.only(names)


def _all_known(files: list[Path], signatures: list[list[int]], hashes: dict[str, Any]) -> bool:
    """Whether every file's hash is in the memo under its current signature (so the key costs no hashing)."""
    return all(_remembered(p, signature, hashes) is not None for p, signature in zip(files, signatures, strict=True))


def _may_hit(sizes: dict[str, int]) -> bool:
    """Whether an entry was made from files of these names and sizes (only then can the key find an entry)."""
    for index in cache_dir().glob(f"*/{ENTRY}"):
        try:
            if orjson.loads(index.read_bytes()).get("sizes") == sizes:
                return True
        except (OSError, orjson.JSONDecodeError, AttributeError):
            continue
    return False


def _read(entry: Path, dataset: Path, names: Collection[str] | None) -> Tables:
    from mdcnb.tables import Tables

    index = orjson.loads((entry / ENTRY).read_bytes())
    rows = index["rows"]
    con = duck.connect(threads=1)
    try:
        frames = {name: _read_table(con, entry, name, rows[name]) for name in (names or schema.TABLES)}
    finally:
        con.close()
    return Tables(**frames, manifest=index["manifest"], dataset=dataset)


def _read_table(con: duckdb.DuckDBPyConnection, entry: Path, name: str, rows: int) -> pd.DataFrame:
    """One table of an entry, typed as its contract types it."""
    table = schema.TABLES[name]
    if not rows:
        return table.frame()
    raw = con.execute("SELECT * FROM read_parquet(?)", [str(entry / f"{name}.parquet")]).fetchnumpy()
    values = _values(con, entry / f"{name}.values.parquet")
    data = {column.name: _column(raw.pop(column.name), column.dtype,
                                 values.get(number, []) if column.dtype in _CODED else None)
            for number, column in enumerate(table.columns)}
    if any(len(column) != rows for column in data.values()):
        raise ValueError(f"table cache entry {entry}: {name} does not hold {rows} rows")
    return pd.DataFrame(data, index=pd.RangeIndex(rows), copy=False)


def _values(con: duckdb.DuckDBPyConnection, path: Path) -> dict[int, list[Any]]:
    """The distinct values of each coded column (by its number in the contract), in code order."""
    if not path.exists():  # every coded column is null
        return {}
    stored = con.execute("SELECT number, value FROM read_parquet(?) ORDER BY number, code", [str(path)]).fetchnumpy()
    numbers, values = np.ma.getdata(stored["number"]), stored["value"]
    starts = np.flatnonzero(np.r_[True, numbers[1:] != numbers[:-1]])
    ends = [*starts[1:].tolist(), len(numbers)]
    return {int(numbers[a]): values[a:b].tolist() for a, b in zip(starts.tolist(), ends, strict=True)}


def _column(stored: np.ndarray, dtype: str, values: list[Any] | None) -> pd.Series:
    """A column as read from Parquet, back to its contract's dtype and values."""
    data, null = np.ma.getdata(stored), np.ma.getmaskarray(stored)
    if values is not None:
        if dtype != schema.STRING:  # JSON text, each distinct value read once
            values = [orjson.loads(v) for v in values]
        missing = pd.NA if dtype == schema.STRING else None
        cells = np.fromiter([*values, missing], dtype=object, count=len(values) + 1)[data]  # code -1: missing
        return pd.Series(pd.arrays.StringArray(cells) if dtype == schema.STRING else cells, dtype=_DTYPE[dtype])
    if dtype == schema.TIME:
        return pd.Series(pd.DatetimeIndex(data.view("M8[ns]")).tz_localize("UTC"))
    if dtype == schema.INT:
        return pd.Series(pd.arrays.IntegerArray(data.astype(np.int64), null))
    if dtype == schema.BOOL:
        return pd.Series(pd.arrays.BooleanArray(data.astype(bool), null))
    return pd.Series(np.where(null, np.nan, data).astype(np.float64))


def _store(entry: Path, tables: Tables, sizes: dict[str, int], codes: Codes) -> None:
    """Write the entry, then drop the oldest entries beyond `KEEP`. Never fails a load."""
    try:
        _write(entry, tables, sizes, codes)
        entries = sorted((p for p in entry.parent.iterdir() if (p / ENTRY).exists()),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            shutil.rmtree(old, ignore_errors=True)
        for old in entry.parent.glob("*.pickle"):  # entries of the format before this one
            old.unlink()
    except (OSError, duckdb.Error, TypeError, ValueError):
        return


def _write(entry: Path, tables: Tables, sizes: dict[str, int], codes: Codes | None = None) -> None:
    """Write an entry (with the `sizes` of the files it was made from, see `_may_hit`) into a private folder beside
    it, then rename that folder to the entry. `codes`: columns already coded (`Codes`), written as they are."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".writing-"))
    con = duck.connect(threads=1)
    try:
        rows = {}
        for name, frame in tables.items():
            rows[name] = len(frame)
            if len(frame):
                _write_table(con, folder, name, frame, (codes or {}).get(name, {}))
        _private_file(folder / ENTRY, orjson.dumps({"rows": rows, "manifest": tables.manifest,
                                                     "sizes": sizes}))
        shutil.rmtree(entry, ignore_errors=True)  # a damaged entry
        os.replace(folder, entry)
    finally:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)


def _write_table(con: duckdb.DuckDBPyConnection, folder: Path, name: str, frame: pd.DataFrame,
                 coded: dict[str, Coded]) -> None:
    """`<name>.parquet` (codes for coded columns; those `coded` gives as they are) and `<name>.values.parquet` (their
    distinct values). The distinct values are gathered as arrays, not a row per value: a million assessment ids would
    take a tuple each."""
    stored: dict[str, Any] = {}
    numbers, codes, values = [], [], []
    for number, column in enumerate(schema.TABLES[name].columns):
        series = frame[column.name]
        if str(series.dtype) != schema.PANDAS_DTYPE[column.dtype]:
            raise TypeError(f"{name}.{column.name} is {series.dtype}, not {column.dtype}")
        if column.dtype in _CODED:
            known = coded.get(column.name)
            stored[column.name], distinct = _codes(series, column.dtype) if known is None else \
                (schema.small_codes(known[0], len(known[1])), known[1])
            numbers.append(np.full(len(distinct), number, dtype=np.int16))
            codes.append(np.arange(len(distinct), dtype=np.int32))
            values.append(distinct)
        elif column.dtype == schema.TIME:
            stored[column.name] = series.array.asi8
        else:
            stored[column.name] = series
    _write_parquet(con, folder / f"{name}.parquet", pd.DataFrame(stored, copy=False))
    del stored
    if values:
        distinct = pd.DataFrame({"number": np.concatenate(numbers), "code": np.concatenate(codes),
                                 "value": np.concatenate(values)}, copy=False)
        _write_parquet(con, folder / f"{name}.values.parquet", distinct)


def _write_parquet(con: duckdb.DuckDBPyConnection, path: Path, data: pd.DataFrame) -> None:
    con.from_df(data).write_parquet(str(path), compression="zstd")
    os.chmod(path, 0o600)


def _codes(series: pd.Series, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """A coded column: codes (-1: null) in the smallest integers that hold them, and its distinct values as text
    (an object array; lists and objects as JSON). Cells are coded by identity (`schema.identity_codes`): a text
    that is not shared is stored once per object, which reads back as the same values."""
    cells = series.to_numpy(dtype=object)
    codes, first = schema.identity_codes(cells)
    if dtype == schema.STRING:
        kept = np.flatnonzero(~pd.isna(cells[first]))  # without the code of pd.NA: it is stored as -1
        if len(kept) < len(first):
            renumbered = np.full(len(first), -1, dtype=np.int64)
            renumbered[kept] = np.arange(len(kept))
            codes, first = renumbered[codes], first[kept]
        return schema.small_codes(codes, len(first)), cells[first]
    texts = [orjson.dumps(cells[row]).decode() for row in first.tolist()]  # None: "null"
    return schema.small_codes(codes, len(first)), np.fromiter(texts, dtype=object, count=len(texts))
