"""A small PDF writer for documents of many plain pages: text in the two standard Helvetica
fonts and filled rectangles, given as content-stream operators (PDF 1.4, ISO 32000-1 §7).

Pick lists and labels use it rather than reportlab's canvas (decision 0012): a national day
draws about 50,000 label pages, and reportlab's page objects (a resource dictionary and a
formatted object tree for each page) were half of the time of drawing them. Pages are written
to the file as they come; the page tree, cross-reference table and trailer at `close()`.
Statements and anything with layout keep reportlab.
"""

from __future__ import annotations

import zlib

# The fonts every page may use: `/F1` Helvetica, `/F2` Helvetica-Bold (standard Type 1
# fonts, which every reader has; text is encoded as WinAnsi, that is cp1252).
FONTS = {"/F1": "Helvetica", "/F2": "Helvetica-Bold"}


def literal(text: str) -> str:
    """`text` as the inside of a PDF string literal (parentheses and backslashes escaped, line
    breaks as spaces). Characters cp1252 lacks become "?" when the page is encoded."""
    return (
        text.replace("\\", "\\\\")
        .replace("(", "\\(")
        .replace(")", "\\)")
        .replace("\r", " ")
        .replace("\n", " ")
    )


class PdfWriter:
    """`with PdfWriter(path, width, height) as pdf: pdf.page(ops)` for each page, where `ops`
    is the page's content stream (ASCII operators, text operands made by `literal`)."""

    def __init__(self, path: str, width: float, height: float, *, level: int = 1):
        self.file = open(path, "wb")  # noqa: SIM115 (closed by close())
        self.offsets: list[int] = []  # of objects 1, 2, ... in the file
        self.pages: list[int] = []
        self.width, self.height, self.level = width, height, level
        self.file.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        # 1: catalog, 2: page tree (written last), then the fonts.
        self.offsets = [0, 0]
        self._object(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        self.fonts = {}
        for name, base in FONTS.items():
            self.fonts[name] = self._new(
                f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} "
                "/Encoding /WinAnsiEncoding >>".encode()
            )
        fonts = " ".join(f"{name} {num} 0 R" for name, num in self.fonts.items())
        self.resources = f"<< /Font << {fonts} >> >>"

    def _object(self, num: int, body: bytes) -> None:
        self.offsets[num - 1] = self.file.tell()
        self.file.write(b"%d 0 obj\n" % num + body + b"\nendobj\n")

    def _new(self, body: bytes) -> int:
        self.offsets.append(0)
        num = len(self.offsets)
        self._object(num, body)
        return num

    def page(self, ops: str) -> None:
        data = zlib.compress(ops.encode("cp1252", "replace"), self.level)
        content = self._new(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
        )
        self.pages.append(
            self._new(
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {self.width:g} {self.height:g}] "
                f"/Resources {self.resources} /Contents {content} 0 R >>".encode()
            )
        )

    def close(self) -> None:
        if self.file.closed:
            return
        if not self.pages:
            self.page("")
        kids = " ".join(f"{p} 0 R" for p in self.pages)
        self._object(2, f"<< /Type /Pages /Kids [{kids}] /Count {len(self.pages)} >>".encode())
        xref = self.file.tell()
        rows = b"".join(b"%010d 00000 n \n" % off for off in self.offsets)
        self.file.write(
            b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.offsets) + 1)
            + rows
            + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(self.offsets) + 1, xref)
        )
        self.file.close()

    def __enter__(self) -> PdfWriter:
        return self

    def __exit__(self, kind, *_) -> None:
        self.close()
