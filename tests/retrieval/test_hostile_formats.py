"""Hostile files of the Office, OpenDocument, e-book, mail and scanned-PDF kinds, each built
here from a real document: each is refused in one line within its bound, and the rest of the
folder is ingested."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from outweigh.errors import IngestError
from outweigh.retrieval import ingest
from outweigh.retrieval.loaders import read_text
from outweigh.retrieval.store import Store
from outweigh.settings import IngestLimits
from outweigh.testing import FakeEmbedder

from . import documents as build

MB = 2**20
SECTIONS = [("Dock", ["The dock code is KX-19."])]


def refused(path: Path, max_bytes: int = 4 * MB, seconds: float = 10.0) -> str:
    """The one-line reason for `path`, given within `seconds`."""
    began = time.perf_counter()
    with pytest.raises(IngestError) as err:
        read_text(path, max_bytes)
    assert time.perf_counter() - began < seconds
    message = str(err.value)
    assert "\n" not in message and path.name in message
    return message


def rezip(src: Path, dest: Path, replace: dict[str, bytes], add: dict[str, bytes]) -> Path:
    """`src` with some members replaced and some added, written to `dest`."""
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for item in z.infolist():
            out.writestr(item, replace.get(item.filename, z.read(item.filename)))
        for name, data in add.items():
            out.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return dest


def real(kind: str, folder: Path) -> Path:
    path = folder / f"real.{kind}"
    {
        "docx": lambda: build.docx(path, SECTIONS),
        "xlsx": lambda: build.xlsx(path, {"Codes": [["Place", "Code"], ["dock", "KX-19"]]}),
        "epub": lambda: build.epub(path, SECTIONS),
        "odt": lambda: build.odt(path, SECTIONS),
    }[kind]()
    return path


@pytest.mark.parametrize("kind", ["docx", "xlsx", "epub", "odt"])
def test_zip_bomb(tmp_path, kind):
    zeros = bytes(64 * MB)  # deflates to ~64 KB; the cap is 4 x 4 MiB
    bomb = rezip(real(kind, tmp_path), tmp_path / f"bomb.{kind}", {}, {"media/zeros.bin": zeros})
    assert bomb.stat().st_size < MB
    assert "zip bomb" in refused(bomb)


def test_a_zip_that_lies_about_its_sizes_is_corrupt(tmp_path):
    src = real("docx", tmp_path)
    data = bytearray(rezip(src, tmp_path / "x.docx", {}, {"big.bin": bytes(8 * MB)}).read_bytes())
    # Set the central directory's uncompressed size of big.bin to 1 KiB: inflating it then
    # overruns the declared size, and zipfile fails its CRC check.
    at = data.rfind(b"big.bin") - 46 + 24
    data[at : at + 4] = (1024).to_bytes(4, "little")
    (tmp_path / "liar.docx").write_bytes(bytes(data))
    assert "corrupt .docx" in refused(tmp_path / "liar.docx")


def test_xml_external_entity_is_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-4242")
    src = real("docx", tmp_path)
    with zipfile.ZipFile(src) as z:
        body = z.read("word/document.xml").decode()
    head, _, rest = body.partition("?>")
    evil = f'{head}?><!DOCTYPE w:document [<!ENTITY x SYSTEM "file://{secret}">]>' + rest.replace(
        "The dock code is KX-19.", "The dock code is &x;"
    )
    xxe = rezip(src, tmp_path / "xxe.docx", {"word/document.xml": evil.encode()}, {})
    message = refused(xxe)
    assert "XML entities" in message and "TOPSECRET" not in message


def test_billion_laughs(tmp_path):
    lol = '<!ENTITY a "lol">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    src = real("xlsx", tmp_path)
    with zipfile.ZipFile(src) as z:
        strings = next(n for n in z.namelist() if n.endswith(".xml") and "sheet1" in n)
        body = z.read(strings).decode()
    head, _, rest = body.partition("?>")
    evil = f"{head}?><!DOCTYPE worksheet [{lol}]>{rest}"
    bomb = rezip(src, tmp_path / "laughs.xlsx", {strings: evil.encode()}, {})
    assert "billion-laughs" in refused(bomb, seconds=2)


def test_password_protected_office_file(tmp_path):
    # What Office writes for a password: an OLE compound file holding EncryptedPackage.
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "EncryptedPackage".encode("utf-16-le")
    (tmp_path / "locked.xlsx").write_bytes(ole + bytes(4096))
    assert "password-protected" in refused(tmp_path / "locked.xlsx")


def test_password_protected_opendocument(tmp_path):
    src = real("odt", tmp_path)
    with zipfile.ZipFile(src) as z:
        manifest = z.read("META-INF/manifest.xml").decode()
    entry = (
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
        '<manifest:encryption-data manifest:checksum="x"/></manifest:file-entry>'
    )
    locked = manifest.replace("</manifest:manifest>", entry + "</manifest:manifest>")
    assert locked != manifest
    path = rezip(src, tmp_path / "locked.odt", {"META-INF/manifest.xml": locked.encode()}, {})
    assert "password-protected" in refused(path)


def test_a_macro_is_never_run_only_the_text_is_read(tmp_path):
    marker = tmp_path / "ran"
    macro = f'Sub AutoOpen()\n Open "{marker}" For Output As #1\nEnd Sub'.encode()
    macros = {"word/vbaProject.bin": macro}
    path = rezip(real("docx", tmp_path), tmp_path / "macro.docx", {}, macros)
    text = read_text(path, 4 * MB)
    assert "KX-19" in text and "AutoOpen" not in text and not marker.exists()
    (tmp_path / "macro.docm").write_bytes(path.read_bytes())
    assert "unsupported file type .docm" in refused(tmp_path / "macro.docm")


def test_a_mail_with_10000_attachments(tmp_path):
    parts = "".join(
        f'--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename="a{i}.txt"'
        f"\n\nx\n"
        for i in range(10_000)
    )
    raw = (
        "From: a@example.org\nSubject: many\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n' + parts + "--b--\n"
    )
    (tmp_path / "many.eml").write_text(raw)
    assert "10001 MIME parts" in refused(tmp_path / "many.eml", seconds=2)


def test_an_image_only_pdf_of_500_pages(tmp_path):
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    img = io.BytesIO()
    build.page_image(["Scanned page"], width=600).resize((300, 400)).save(img, format="PNG")
    c = canvas.Canvas(str(tmp_path / "scan500.pdf"))
    for _ in range(500):
        c.drawImage(ImageReader(io.BytesIO(img.getvalue())), 0, 0, 300, 400)
        c.showPage()
    c.save()
    message = refused(tmp_path / "scan500.pdf", max_bytes=50 * MB, seconds=20)
    assert "500 scanned pages" in message and "OUTWEIGH_OCR_PAGES" in message


def test_the_rest_of_the_batch_is_ingested(tmp_path, paths):
    folder = tmp_path / "batch"
    folder.mkdir()
    rezip(real("docx", tmp_path), folder / "bomb.docx", {}, {"z.bin": bytes(64 * MB)})
    (folder / "locked.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024))
    build.docx(folder / "good.docx", SECTIONS)
    build.eml(folder / "good.eml", "Dock", "The gate code is GT-7.")
    limits = IngestLimits(max_file_bytes=4 * MB)
    report = ingest([folder], Store(paths), FakeEmbedder(), "c", limits=limits)
    assert report.files == 2
    assert sorted(Path(p).name for p, _ in report.failed) == ["bomb.docx", "locked.docx"]
    assert all("\n" not in why for _, why in report.failed)


def test_a_native_crash_in_the_reader_costs_one_file(tmp_path, paths, monkeypatch):
    """The reader's worker process really segfaults (a NULL read, as a parser fed hostile
    bytes might) on one file: that file is refused in one line, this process lives on, the
    rest of the batch is ingested, and the next file is read by a fresh worker."""
    import ctypes

    from outweigh.retrieval import isolate

    real_run = isolate.run
    folder = tmp_path / "batch"
    folder.mkdir()
    build.docx(folder / "crash.docx", SECTIONS)
    build.eml(folder / "good.eml", "Dock", "The gate code is GT-7.")
    build.odt(folder / "good.odt", SECTIONS)

    def crash_on_docx(fn, data, mime):
        if "wordprocessingml" in mime:
            return real_run(ctypes.string_at, 0)  # SIGSEGV in the worker
        return real_run(fn, data, mime)

    monkeypatch.setattr(isolate, "run", crash_on_docx)
    report = ingest([folder], Store(paths), FakeEmbedder(), "c")
    assert report.files == 2
    [(path, why)] = report.failed
    assert Path(path).name == "crash.docx" and "crashed" in why and "\n" not in why
    monkeypatch.setattr(isolate, "run", real_run)
    assert "KX-19" in read_text(folder / "crash.docx", 4 * MB)
