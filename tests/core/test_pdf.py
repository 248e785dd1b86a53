"""core.pdf writes PDFs a standard reader opens: pages, both fonts, escaped text."""

from pypdf import PdfReader

from redenvelope.core.pdf import PdfWriter, literal


def test_pages_text_and_escapes_read_back(tmp_path):
    path = tmp_path / "doc.pdf"
    awkward = "O'Brien (Jr.) \\ back-slash, café, naïve"
    with PdfWriter(str(path), 612, 792) as pdf:
        for n in range(3):
            pdf.page(
                f"BT /F1 12 Tf 72 700 Td (Page {n + 1}) Tj ET "
                f"BT /F2 10 Tf 72 680 Td ({literal(awkward)}) Tj ET "
                "0 0 10 10 re f"
            )
    reader = PdfReader(str(path))
    assert len(reader.pages) == 3
    assert [float(v) for v in reader.pages[0].mediabox] == [0, 0, 612, 792]
    for n, page in enumerate(reader.pages):
        text = page.extract_text()
        assert f"Page {n + 1}" in text and awkward in text
    fonts = reader.pages[0]["/Resources"]["/Font"]
    assert {fonts[f]["/BaseFont"] for f in fonts} == {"/Helvetica", "/Helvetica-Bold"}


def test_text_outside_the_encoding_and_line_breaks_stay_on_the_page(tmp_path):
    path = tmp_path / "doc.pdf"
    with PdfWriter(str(path), 200, 100) as pdf:
        text = literal("北京 line\nbreak")
        pdf.page(f"BT /F1 9 Tf 10 50 Td ({text}) Tj ET")
    text = PdfReader(str(path)).pages[0].extract_text()
    assert "?? line break" in text


def test_a_document_without_pages_still_opens(tmp_path):
    path = tmp_path / "empty.pdf"
    PdfWriter(str(path), 612, 792).close()
    assert len(PdfReader(str(path)).pages) == 1
