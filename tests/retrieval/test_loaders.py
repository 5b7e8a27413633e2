from pathlib import Path

import pytest

from outweigh.errors import IngestError
from outweigh.retrieval.loaders import read_text

from .pdf import make_pdf

MB = 1024 * 1024


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_reads_text_markdown_html_and_pdf(tmp_path):
    assert read_text(write(tmp_path, "a.txt", b"plain  text\r\nline"), MB) == "plain text\nline"
    assert "# Title" in read_text(write(tmp_path, "a.md", "# Title\n\nбукв".encode()), MB)
    html = b"<html><head><script>var x=1;</script><style>p{}</style></head>"
    html += b"<body><p>Hello &amp; welcome</p><p>second</p></body></html>"
    text = read_text(write(tmp_path, "a.html", html), MB)
    assert text == "Hello & welcome\n\nsecond"
    pdf = read_text(write(tmp_path, "a.pdf", make_pdf("The dock code is KX-19.")), MB)
    assert "KX-19" in pdf


# Hostile files (binary, bad encodings, empty, over the cap, broken PDFs, ...) have their own
# tests in test_hostile.py.
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("blank.md", b"  \n\t\n", "no text found"),
        ("corrupt.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\ngarbage", "PDF"),
        ("fake.pdf", b"this is not a pdf at all", "not a PDF"),
        ("image.png", b"\x89PNG\r\n\x1a\n", "unsupported file type .png"),
    ],
)
def test_bad_files_get_one_line_errors(tmp_path, name, data, message):
    with pytest.raises(IngestError, match=message) as err:
        read_text(write(tmp_path, name, data), MB)
    assert "\n" not in str(err.value)
    assert name in str(err.value)


def test_html_keeps_its_structure_as_markdown(tmp_path):
    page = b"""<html><head><title>T</title></head><body>
    <nav><a href="/">Home</a> <a href="/docs">Docs</a></nav>
    <button>Copy</button>
    <h1>Cargo   Book</h1>
    <h3>sparse-registry</h3>
    <p>Stabilized in
       the 1.68 release. See <a href="https://crates.io">crates.io</a> and
       <a href="other.html">another page</a>.</p>
    <ul><li><p>first item</p></li><li>second <ul><li>nested</li></ul></li></ul>
    <pre><code>[package]
version = "0.1.0"</code></pre>
    <table><tr><th>Spec</th><th>Example</th></tr>
    <tr><td>name</td><td>bitflags</td></tr><tr><td>a|b</td><td>c</td></tr></table>
    </body></html>"""
    text = read_text(write(tmp_path, "page.html", page), MB)
    lines = text.split("\n")
    # Headings keep their level, whitespace folds as a browser folds it.
    assert "# Cargo Book" in lines and "### sparse-registry" in lines
    linked = "Stabilized in the 1.68 release. See [crates.io](https://crates.io) and another page."
    assert linked in lines
    # List items, nested ones indented; a block inside an item stays on the item's line.
    # (normalise folds the nested item's two spaces into one)
    assert "- first item" in lines and "- second" in lines and " - nested" in lines
    # Preformatted text between fences, its lines as they were.
    fence = lines.index("```")
    assert lines[fence + 1 : fence + 4] == ["[package]", 'version = "0.1.0"', "```"]
    # A table's rows under a rule, as `retrieval.tables` reads them.
    assert "| Spec | Example |\n| --- | --- |\n| name | bitflags |\n| a\\|b | c |" in text
    # Navigation menus and buttons are not the page's text.
    assert "Home" not in text and "Copy" not in text


def test_html_with_cells_rows_and_headings_left_open_loses_no_text(tmp_path):
    page = b"<h2>Sizes<table><tr><th>Name<th>Size<tr><td>a<td>1<tr><td>b<td>2</table><p>after"
    text = read_text(write(tmp_path, "open.html", page), MB)
    assert text.split("\n") == [
        "## Sizes",
        "",
        "| Name | Size |",
        "| --- | --- |",
        "| a | 1 |",
        "| b | 2 |",
        "",
        "after",
    ]
