"""What a damaged gzip log file still holds: the records before the damage, and an estimate of those lost.

A gzip file cut short (a partial upload or copy) inflates, up to the cut, to exactly the text it had: its records
up to there are read exactly. The inflated text is cut after the last record that ends before the cut and closed
(`]}`, or `]` for a bare array); such a cut is valid JSON only at a record boundary of the Records array (inside a
record or a string it leaves something open), so the records kept are exactly the complete ones, and they are
counted like any file's. A corrupt stream is all-or-nothing: deflate checks its data only at the end of the
stream, so the text inflated before the error may already be wrong, and none of it is counted.

What is lost cannot be seen, so it is estimated. A file cut short: the record the cut went through (the records
that followed it are not in the file at all, and nothing in a gzip stream says how many there were). A corrupt
file: the records its inflated text appears to hold (`"eventID"` keys), plus the compressed bytes that could not be
inflated at the rate of records per compressed byte seen before the error (GZIP_BYTES_PER_RECORD when it gave
none).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import msgspec

from mdcnb.sources.cloudtrail.layout import GZIP_MAGIC

CHUNK = 1 << 12       # compressed bytes fed to the inflater at a time: an error is placed to within this
MAX_CUTS_TRIED = 256  # `}` looked at, from the end back (each candidate tried parses the text once)
# Compressed bytes per record when a file gives no rate of its own (reference/aws-cloudtrail.md §7: ~206 B a record
# gzipped in the public records).
GZIP_BYTES_PER_RECORD = 206
_VALIDATE = msgspec.json.Decoder(dict[str, list[msgspec.Raw]] | list[msgspec.Raw])


@dataclass(frozen=True)
class Salvage:
    """The text of the complete records (a valid log, or None: nothing could be kept) and the loss estimate."""

    text: bytes | None
    records: int   # complete records in `text`
    lost: int      # estimated records lost
    exact: bool    # whether the records before the damage are kept (False: all-or-nothing, none kept)

    def note(self, reason: str) -> str:
        """The skip reason naming the damage, the estimate and what was counted."""
        if self.exact:
            return (f"{reason}: ~{self.lost} record(s) lost (estimate); the {self.records} complete record(s) "
                    f"before the cut are counted; any record after the cut is not in the file")
        return (f"{reason}: ~{self.lost} record(s) lost (estimate from the bytes read); all-or-nothing: none of "
                f"the file's records is counted")


def salvage(blob: bytes, max_bytes: int, truncated: bool) -> Salvage | None:
    """The complete records of a damaged gzip file (a `truncated` one: cut short; else corrupt, all-or-nothing)
    and the estimate of those lost; None when its text would pass `max_bytes` (the size guard wins)."""
    inflated = _inflate_prefix(blob, max_bytes)
    if inflated is None:
        return None
    text, consumed = inflated
    cut = _last_record_end(text) if truncated else None
    if cut is None:
        unread = len(blob.rstrip(b"\0")) - consumed  # zero bytes after the stream are padding
        seen = text.count(b'"eventID"')
        return Salvage(None, 0, seen + _share(seen, unread, consumed), exact=False)
    kept, records = cut
    cut_through = 1 if b"{" in text[len(kept) - len(_closer(text)):] else 0
    return Salvage(kept, records, cut_through, exact=True)


def _share(records: int, unread: int, consumed: int) -> int:
    """Records expected in `unread` compressed bytes at the rate seen in the `consumed` ones (the typical rate when
    they held no record)."""
    if unread <= 0:
        return 0
    return round(records * unread / consumed) if records else -(-unread // GZIP_BYTES_PER_RECORD)


def _inflate_prefix(blob: bytes, max_bytes: int) -> tuple[bytes, int] | None:
    """(text inflated before the damage, compressed bytes it came from), member after member, CHUNK bytes at a
    time; None past `max_bytes`."""
    parts, size, start = [], 0, 0
    while start < len(blob) and blob[start:start + 2] == GZIP_MAGIC:
        inflater, pos = zlib.decompressobj(wbits=47), start
        while pos < len(blob) and not inflater.eof:
            try:
                part = inflater.decompress(blob[pos:pos + CHUNK], max_bytes - size + 1)
            except zlib.error:
                return b"".join(parts), pos
            parts.append(part)
            size += len(part)
            if size > max_bytes or inflater.unconsumed_tail:  # the limit stopped it
                return None
            pos += CHUNK
        if not inflater.eof:
            return b"".join(parts), len(blob)
        start = min(pos, len(blob)) - len(inflater.unused_data)
    return b"".join(parts), start


def _closer(text: bytes) -> bytes:
    return b"]" if text.lstrip()[:1] == b"[" else b"]}"


def _last_record_end(text: bytes) -> tuple[bytes, int] | None:
    """(the text cut after its last complete record and closed, the records in it), or None. Candidates are the
    `}` followed by `,` or `]` (or ending the text), tried from the end; when none closes, the text cut right after
    the array's opening (no complete record)."""
    closer, end = _closer(text), len(text)
    for _ in range(MAX_CUTS_TRIED):
        end = text.rfind(b"}", 0, end)
        if end < 0:
            opening = text.find(b"[")
            return _closed(text[:opening + 1] + closer) if opening >= 0 else None
        if text[end + 1:end + 2].strip() in (b"", b",", b"]"):
            closed = _closed(text[:end + 1] + closer)
            if closed is not None:
                return closed
    return None


def _closed(candidate: bytes) -> tuple[bytes, int] | None:
    """(candidate, its records) when it is a valid log, else None."""
    try:
        doc = _VALIDATE.decode(candidate)
    except (msgspec.DecodeError, RecursionError):
        return None
    records = doc if type(doc) is list else doc.get("Records")
    return None if records is None else (candidate, len(records))
