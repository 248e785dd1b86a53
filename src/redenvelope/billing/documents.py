"""Statements as PDF (reportlab): what was billed, credited and paid, line by line."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.units import inch
from reportlab.pdfgen import canvas

from .models import Statement


def statement_pdf(statement: Statement) -> bytes:
    s = statement
    member = s.member
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=LETTER)
    c.setTitle(f"Red Envelope statement {s.period_start}")
    w, h = LETTER
    y = h - inch
    c.setFont("Helvetica-Bold", 18)
    c.drawString(inch, y, "Red Envelope")
    c.setFont("Helvetica", 10)
    c.drawRightString(w - inch, y, f"Statement #{s.pk}")
    y -= 0.4 * inch
    name = member.user.get_full_name() or member.user.username
    for line in (name, member.street, f"{member.city}, {member.state} {member.zip_code}"):
        c.drawString(inch, y, line)
        y -= 14
    y -= 10
    c.setFont("Helvetica-Bold", 11)
    kind = "Plan change" if s.kind == Statement.Kind.PRORATION else "Monthly statement"
    c.drawString(inch, y, f"{kind}: {s.period_start:%B %-d, %Y} to {s.period_end:%B %-d, %Y}")
    y -= 24
    rows = [(f"{s.plan.name} (${s.plan_price} a month)", s.subtotal)]
    if s.held_days:
        rows.append((f"  includes {s.held_days} vacation-hold days not charged", None))
    if s.discount:
        rows.append(("Percent off (credit)", -s.discount))
    if s.adjustment:
        label = "Hold-day correction for the last period"
        if s.adjustment_tax:
            label += f" (sales tax {s.adjustment_tax} of it)"
        rows.append((label, s.adjustment))
    if s.fees:
        for fee in s.fee_items.all():
            rows.append((f"{fee.get_kind_display()}: {fee.reason}"[:70], fee.amount))
    rows.append(("Sales tax", s.tax))
    if s.gift_applied:
        rows.append(("Paid by gift subscription", -s.gift_applied))
    if s.credit_applied:
        rows.append(("Account credit applied", -s.credit_applied))
    c.setFont("Helvetica", 10)
    for label, amount in rows:
        c.drawString(inch, y, label)
        if amount is not None:
            c.drawRightString(
                w - inch, y, f"${amount:,.2f}" if amount >= 0 else f"-${-amount:,.2f}"
            )
        y -= 16
    c.line(inch, y + 6, w - inch, y + 6)
    y -= 8
    c.setFont("Helvetica-Bold", 11)
    c.drawString(inch, y, "Total")
    c.drawRightString(w - inch, y, f"${s.total_due:,.2f}")
    y -= 16
    c.setFont("Helvetica", 10)
    c.drawString(inch, y, "Paid")
    c.drawRightString(w - inch, y, f"${s.amount_paid:,.2f}")
    y -= 16
    c.drawString(inch, y, f"Status: {s.get_status_display()}")
    y -= 30
    for p in s.payments.select_related("method").order_by("attempted_at", "id"):
        how = str(p.method) if p.method else "no payment method"
        text = f"{p.attempted_at:%b %-d, %Y} {how}: ${p.amount} {p.get_status_display().lower()}"
        if p.status == "failed":
            text += f" ({p.message})"
        if p.charged_back_at:
            text += " (reversed by your bank)"
        c.drawString(inch, y, text[:95])
        y -= 14
        if y < inch:
            c.showPage()
            y = h - inch
    c.showPage()
    c.save()
    return buf.getvalue()
