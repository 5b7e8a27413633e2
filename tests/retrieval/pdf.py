"""PDFs built byte by byte in the tests (no binary fixtures): a valid one-page PDF with real
text, and the hostile ones of the corpus in test_hostile.py."""

from __future__ import annotations

import io
import zlib


def make_pdf(text: str) -> bytes:
    """A valid one-page PDF showing `text` in Helvetica."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET".encode("latin-1")
    return page_pdf(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))


def page_pdf(contents: bytes) -> bytes:
    """A one-page PDF whose content stream object (object 4) is `contents`, verbatim."""
    return pdf_from_objects(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            contents,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def pdf_from_objects(objects: list[bytes]) -> bytes:
    """Objects 1..n with a correct xref table; object 1 is the catalog."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def zip_bomb_pdf(mib: int) -> bytes:
    """A page whose FlateDecode content stream inflates to `mib` MiB of zeros; the file is about
    1/1000 of that (zlib's best ratio on a constant run). Built a MiB at a time, so building a
    256 MiB bomb needs 1 MiB of memory."""
    deflate = zlib.compressobj(9)
    zeros = bytes(1 << 20)
    data = b"".join(deflate.compress(zeros) for _ in range(mib)) + deflate.flush()
    return page_pdf(
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(data), data)
    )


def encrypted_pdf(text: str, password: str = "secret") -> bytes:
    """`make_pdf(text)` encrypted by pypdf (RC4, which needs no `cryptography`)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(text))))
    writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def spaces_pdf(pages: int, mib: int) -> bytes:
    """`pages` pages, each drawn by a FlateDecode stream of `mib` MiB of spaces: every stream
    stays under the per-stream cap, while text extraction's cost grows with all of them."""
    deflate_one = zlib.compress(b" " * (mib << 20), 9)
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (
        len(deflate_one),
        deflate_one,
    )
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages)).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
    ]
    for i in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R >>"
            % (4 + 2 * i)
        )
        objects.append(stream)
    return pdf_from_objects(objects)
