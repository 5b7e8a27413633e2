"""Checks on a container file before any extractor parses it: Office and OpenDocument files
and e-books are zip archives of XML, and mail is MIME. Each hostile shape gets one line:

- a zip bomb: every member is inflated here, streamed, and the total may not pass the file
  size cap times `INFLATE_RATIO`; a member that inflates past its declared size fails its
  CRC check, so the extractor reads no more than what was counted;
- XML entities (external ones read local files, XXE; nested ones grow exponentially, the
  billion laughs): no Office, OpenDocument or EPUB part needs an entity declaration, so a
  part that has one is refused before any XML parser sees it;
- a password: an encrypted OOXML file is an OLE compound file (MS-OFFCRYPTO), an encrypted
  OpenDocument names its `encryption-data` in the manifest;
- a mail with thousands of parts: counted from its headers before it is parsed.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from outweigh.errors import IngestError

ZIP_SUFFIXES = frozenset(
    {".docx", ".pptx", ".xlsx", ".odt", ".ods", ".odp", ".epub"},
)
"""Formats that are zip archives."""

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""An OLE compound file: the legacy Office formats, and any password-protected OOXML file."""

INFLATE_RATIO = 4
"""Most a zip-based document may inflate to, as a multiple of the file size cap (50 MiB by
default: 200 MiB). A 10 MB deck of slides inflates to about 12 MB (its images are stored
already compressed); Office text compresses ~10x, so a file near the cap of pure text inflates
to ~2.5x it."""

MAX_MEMBERS = 10_000
"""Most members a zip-based document may have; a 500-slide deck has about 1,500."""

MAX_MAIL_PARTS = 1_000
"""Most MIME parts one mail may have. A mail with 10,000 attachments would be extracted part by
part; no mail a person reads has a thousand."""

_ENTITY = (b"<!ENTITY", "<!ENTITY".encode("utf-16-le"), "<!ENTITY".encode("utf-16-be"))
_XML_PARTS = (".xml", ".rels", ".xhtml", ".html", ".htm", ".opf", ".ncx", ".svg")
_MIME_PART = re.compile(rb"^content-type:", re.IGNORECASE | re.MULTILINE)

_READ = 1 << 20
"""Bytes inflated per read while a member is counted."""


def check_container(path: Path, data: bytes, max_bytes: int) -> None:
    """Refuse `data` (the bytes of `path`) with one line if it is hostile as its kind can be."""
    suffix = path.suffix.lower()
    if suffix in ZIP_SUFFIXES:
        if data.startswith(OLE_MAGIC):
            raise IngestError(
                f"{path}: password-protected (encrypted) Office file; save a copy without a "
                "password and ingest that"
            )
        check_zip(path, data, max_bytes)
    elif suffix in (".eml",):
        check_mail(path, data)


def check_zip(path: Path, data: bytes, max_bytes: int) -> None:
    """Inflate every member of the zip `data`, counting bytes, and look into its XML."""
    cap = max_bytes * INFLATE_RATIO
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise IngestError(f"{path}: corrupt {path.suffix} file (not a zip archive: {e})") from e
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise IngestError(
                f"{path}: {len(members)} parts in one file, over the {MAX_MEMBERS} limit; it may "
                "be a zip bomb"
            )
        declared = sum(m.file_size for m in members)
        if declared > cap:
            raise _bomb(path, declared, cap)
        total = 0
        for m in members:
            name = m.filename.lower()
            xml = name == "meta-inf/manifest.xml" or name.endswith(_XML_PARTS)
            head: bytes | None = b"" if xml else None
            try:
                with archive.open(m) as f:
                    while block := f.read(_READ):
                        total += len(block)
                        if total > cap:
                            raise _bomb(path, total, cap)
                        if head is not None:
                            # The last 16 bytes carried over: a marker split across reads.
                            _check_xml(path, m.filename, head[-16:] + block)
                            head = block
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
                raise IngestError(f"{path}: corrupt {path.suffix} file ({m.filename}: {e})") from e
            except RuntimeError as e:  # zipfile: "File ... is encrypted, password required"
                raise IngestError(
                    f"{path}: password-protected part {m.filename}; save a copy without a "
                    "password and ingest that"
                ) from e
        manifest = "META-INF/manifest.xml"
        odf = path.suffix.lower() in (".odt", ".ods", ".odp") and manifest in archive.namelist()
        if odf and b"encryption-data" in archive.read(manifest):
            raise IngestError(
                f"{path}: password-protected OpenDocument file; save a copy without a "
                "password and ingest that"
            )


def _check_xml(path: Path, member: str, block: bytes) -> None:
    if any(marker in block for marker in _ENTITY):
        raise IngestError(
            f"{path}: {member} declares XML entities (an external-entity or billion-laughs "
            "attack); no document needs them, so it is not read"
        )


def _bomb(path: Path, size: int, cap: int) -> IngestError:
    return IngestError(
        f"{path}: inflates to over {size / 2**20:.0f} MiB, past {cap / 2**20:.0f} MiB "
        f"({INFLATE_RATIO}x OUTWEIGH_MAX_FILE_MB); it may be a zip bomb; if you trust it, "
        "raise OUTWEIGH_MAX_FILE_MB"
    )


def check_mail(path: Path, data: bytes, what: str = "mail") -> None:
    """Refuse a mail of more than `MAX_MAIL_PARTS` MIME parts, counted from its headers."""
    parts = len(_MIME_PART.findall(data))
    if parts > MAX_MAIL_PARTS:
        raise IngestError(
            f"{path}: {what} has {parts} MIME parts (attachments), over the {MAX_MAIL_PARTS} "
            "limit; save the text you need as a file and ingest that"
        )
