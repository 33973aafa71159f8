"""Text encoding of shapefile attributes: explicit, from the ``.cpg``, or detected.

Chinese shapefiles are often written in GBK/GB18030 without a ``.cpg`` file; GDAL
then assumes ISO-8859-1 and 汀州镇 comes out as ``Í¡ÖÝÕò``. The rule here:

1. an ``encoding:`` given in the config wins;
2. a ``.cpg`` beside the ``.shp`` is trusted (GDAL reads it);
3. otherwise the DBF's character fields are read as bytes and decoded strictly:
   pure ASCII needs nothing, then UTF-8, then GB18030 (a superset of GBK and
   GB2312); if neither decodes every value cleanly, the read stops with an error
   naming the file and the ``encoding`` key.

UTF-8 is tried first because a GBK text of more than a few characters is almost
never valid UTF-8, while valid UTF-8 is often also "valid" GB18030.

The DBF header is parsed by hand (dBASE III layout: record count at byte 4, header
length at 8, record length at 10, 32-byte field descriptors from byte 32): GDAL
exposes no raw bytes of a field, and the layout is fixed and small.
"""

from __future__ import annotations

import struct
from pathlib import Path

from pipeline.errors import InputDataError

CANDIDATES = ("UTF-8", "GB18030")


def _dbf_text_bytes(dbf: Path, *, max_records: int = 5000) -> list[bytes]:
    """Raw bytes of every character (``C``) field value of the first records."""
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            raise InputDataError(f"{dbf}: not a dBASE file (header too short)")
        n_records, header_len, record_len = struct.unpack("<IHH", head[4:12])
        desc = fh.read(header_len - 32)
        fields = []  # (offset in record, length) of C fields; byte 0 = deletion flag
        offset = 1
        for i in range(0, len(desc) - 31, 32):
            if desc[i] == 0x0D:
                break
            ftype = chr(desc[i + 11])
            flen = desc[i + 16]
            if ftype == "C":
                flen += desc[i + 17] * 256  # long character fields use the decimal byte
                fields.append((offset, flen))
            offset += flen
        fh.seek(header_len)
        out = []
        for _ in range(min(n_records, max_records)):
            rec = fh.read(record_len)
            if len(rec) < record_len:
                break
            for off, length in fields:
                value = rec[off : off + length].rstrip(b" \x00")
                if value:
                    out.append(value)
    return out


def detect_dbf_encoding(dbf: str | Path) -> str | None:
    """``None`` (pure ASCII), ``"UTF-8"`` or ``"GB18030"``; InputDataError otherwise."""
    dbf = Path(dbf)
    values = _dbf_text_bytes(dbf)
    if all(v.isascii() for v in values):
        return None
    for enc in CANDIDATES:
        try:
            for v in values:
                v.decode(enc, errors="strict")
        except UnicodeDecodeError:
            continue
        return enc
    raise InputDataError(
        f"{dbf}: the attribute text is neither UTF-8 nor GB18030/GBK (garbled, or another "
        "code page); set `encoding:` for this input in the config (e.g. encoding: GBK or "
        "encoding: BIG5), or add a .cpg file naming the code page"
    )


def vector_encoding(path: str | Path, encoding: str | None = None) -> str | None:
    """The encoding to pass to the reader for ``path`` (None = let GDAL decide).

    Only shapefiles are examined; GeoPackage and GeoJSON are UTF-8 by definition.
    """
    if encoding:
        return encoding
    path = Path(path)
    if path.suffix.lower() != ".shp":
        return None
    if path.with_suffix(".cpg").exists() or path.with_suffix(".CPG").exists():
        return None
    dbf = next(
        (p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None
    )
    if dbf is None:
        return None
    return detect_dbf_encoding(dbf)


__all__ = ["detect_dbf_encoding", "vector_encoding"]
