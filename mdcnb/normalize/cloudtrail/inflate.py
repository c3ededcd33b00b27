"""Step 1 of reading a CloudTrail log file: its bytes -> its text, gzip (detected by magic bytes) or plain, bounded
by a size limit. A damaged gzip file is named as such (TRUNCATED, CORRUPT) so the caller can salvage what precedes
the damage (`damaged`).

Inflating is about half of the scan's work. ISA-L's inflate (python-isal, `isal.isal_zlib`, zlib's API) takes about
half the CPU of zlib's on CloudTrail files (benchmarks/cloudtrail_scan.py), so the one-call path uses it when it is
installed (a dependency; zlib's otherwise, or with MDCNB_INFLATE=zlib). Anything it rejects goes to zlib's
member-by-member path, which names what is wrong in zlib's words whichever library made the first try."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from typing import NamedTuple

from mdcnb.sources.cloudtrail.layout import GZIP_MAGIC

DEFAULT_MAX_FILE_BYTES = 1 << 30  # decompressed; larger files are skipped instead of exhausting memory
DEFLATE_MAX_RATIO = 1032  # the most deflate can expand its input (zlib's technical notes)
TRUNCATED, CORRUPT = "truncated gzip (end of stream missing)", "corrupt gzip"


class Inflater(NamedTuple):
    """A zlib-compatible one-call `decompress(data, wbits, bufsize)` and the exception it raises on bad data."""

    name: str
    decompress: Callable[..., bytes]
    error: type[Exception]


ZLIB = Inflater("zlib", zlib.decompress, zlib.error)


def fastest_inflater() -> Inflater:
    """isal's inflater when it can be imported and MDCNB_INFLATE is not `zlib`, else zlib's."""
    if os.environ.get("MDCNB_INFLATE", "") != "zlib":
        try:
            from isal import isal_zlib
        except ImportError:
            pass
        else:
            return Inflater("isal", isal_zlib.decompress, isal_zlib.error)
    return ZLIB


INFLATER = fastest_inflater()


def inflate(blob: bytes, max_bytes: int = DEFAULT_MAX_FILE_BYTES,
            inflater: Inflater = INFLATER) -> tuple[bytes | None, str | None]:
    """(text, None) or (None, reason) for one file's bytes, gzip or plain.

    A gzip file too small to inflate past `max_bytes` (deflate expands at most DEFLATE_MAX_RATIO times) is inflated
    in one call (`inflater`) into a buffer of the size its trailer states, which is kept as the text: less work
    than growing the output in blocks and joining them (benchmarks/cloudtrail_scan.py). The buffer has one byte
    more: isal grows a buffer it fills, and so maps fresh memory for every file. That call reads only the first
    gzip member: when the text is not the size the file's last trailer states, the file holds more (concatenated
    gzip files are one valid gzip file; a last member that happens to state the first one's size is not noticed).
    That, anything else, or anything the call rejects is inflated member by member by zlib with the limit
    enforced, which also names what is wrong."""
    if not blob:
        return None, "empty file"
    if blob[:2] != GZIP_MAGIC:
        if len(blob) > max_bytes:
            return None, f"larger than {max_bytes} bytes"
        return _text_or_empty(blob, "empty file")
    most = len(blob) * DEFLATE_MAX_RATIO
    if most <= max_bytes:
        stated = int.from_bytes(blob[-4:], "little")  # modulo 2**32; a lie only sizes the buffer (capped)
        try:
            data = inflater.decompress(blob, wbits=47, bufsize=min(stated, most) + 1)
        except inflater.error:
            pass
        else:
            if len(data) % (1 << 32) == stated:
                return _text_or_empty(data)
    return _inflate_members(blob, max_bytes)


def _inflate_members(blob: bytes, max_bytes: int) -> tuple[bytes | None, str | None]:
    """Every gzip member of `blob` in turn (zero bytes after the last are padding), at most `max_bytes` in all."""
    parts, size, rest = [], 0, blob
    while True:
        inflater = zlib.decompressobj(wbits=47)
        try:
            part = inflater.decompress(rest, max_bytes - size + 1)
        except zlib.error as exc:
            return None, f"{CORRUPT} ({exc})"
        parts.append(part)
        size += len(part)
        if size > max_bytes:
            return None, f"larger than {max_bytes} bytes decompressed"
        if not inflater.eof:
            return None, TRUNCATED
        rest = inflater.unused_data
        if not rest.strip(b"\0"):
            return _text_or_empty(b"".join(parts))
        if rest[:2] != GZIP_MAGIC:
            return None, f"{CORRUPT} (data after the end of the gzip stream)"


def _text_or_empty(data: bytes, empty: str = "empty file (gzip of nothing)") -> tuple[bytes | None, str | None]:
    return (None, empty) if not data or data.isspace() else (data, None)
