"""Support mail in (pipe and SMTP gateway) and agents' replies out, threaded."""

import smtplib
import socket
from email.message import EmailMessage

import pytest

from redenvelope.support import actions as support
from redenvelope.support import gateway, mail
from redenvelope.support.models import Attachment, Case, Interaction


def message(
    sender="alice@example.com", subject="Disc cracked", body="It arrived broken.", **headers
):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@redenvelope.example"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def raw(msg) -> bytes:
    return bytes(msg)


def test_mail_opens_a_case_and_replies_thread_onto_it(world):
    first = mail.receive(raw(message(Message_ID="<m1@example.com>")))
    assert first.outcome == "opened"
    case = Case.objects.get(pk=first.case_id)
    assert case.member == world.alice and case.channel == "email"
    reply = message(
        subject="Re: Disc cracked",
        body="Any news?",
        Message_ID="<m2@example.com>",
        In_Reply_To="<m1@example.com>",
        References="<m1@example.com>",
    )
    assert mail.receive(raw(reply)).case_id == case.pk
    again = mail.receive(raw(reply))  # a relay's retry
    assert again.outcome == "duplicate" and Interaction.objects.filter(case=case).count() == 2


def test_auto_replies_and_bounces_never_open_cases(world):
    for headers in (
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X_Autoreply": "yes"},
    ):
        assert mail.receive(raw(message(**headers))).outcome == "ignored"
    assert mail.receive(raw(message(sender="MAILER-DAEMON@mx.example.com"))).outcome == "ignored"
    assert not Case.objects.exists()


def test_unknown_sender_gets_a_case_of_their_own(world):
    got = mail.receive(raw(message(sender="stranger@elsewhere.example", Message_ID="<s1@x>")))
    case = Case.objects.get(pk=got.case_id)
    assert case.member is None and case.contact == "stranger@elsewhere.example"
    # someone else cannot continue it by quoting its Message-ID
    other = message(sender="bob@example.com", In_Reply_To="<s1@x>", Message_ID="<s2@x>")
    assert mail.receive(raw(other)).case_id != case.pk


def test_attachments_are_kept(world):
    msg = message(Message_ID="<a1@x>")
    msg.add_attachment(b"\x89PNG fake", maintype="image", subtype="png", filename="crack.png")
    got = mail.receive(raw(msg))
    att = Attachment.objects.get(interaction_id=got.interaction_id)
    assert att.filename == "crack.png" and bytes(att.data) == b"\x89PNG fake"


def test_oversized_and_malformed_mail_is_refused(world, settings):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "SUPPORT_MAIL_MAX_BYTES": 2000}
    with pytest.raises(mail.MailRefused) as big:
        mail.receive(raw(message(body="x" * 5000)))
    assert big.value.code == 552
    with pytest.raises(mail.MailRefused):
        mail.receive(b"Subject: no sender\r\n\r\nhello")
    assert not Case.objects.exists()


def test_a_flood_is_held_on_one_case(world, settings):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "SUPPORT_MAIL_FLOOD": 5}
    outcomes = [
        mail.receive(raw(message(subject=f"Spam {i}", Message_ID=f"<f{i}@x>"))).outcome
        for i in range(12)
    ]
    assert outcomes[0] == "opened" and outcomes[-1] == "held"
    assert Case.objects.count() == 1
    case = Case.objects.get()
    assert case.held == 7 and Interaction.objects.filter(case=case, kind="email_in").count() == 12
    # another sender is not held
    assert mail.receive(raw(message(sender="bob@example.com"))).outcome == "opened"


def test_agent_reply_goes_out_over_smtp_threaded(world, smtp, emails_at_once):
    got = mail.receive(raw(message(Message_ID="<orig@example.com>")))
    case = Case.objects.get(pk=got.case_id)
    support.reply_by_email(case, "A replacement is on its way.", actor=world.staff["support_agent"])
    (sent,) = smtp.received
    assert sent["In-Reply-To"] == "<orig@example.com>"
    assert "<orig@example.com>" in sent["References"]
    assert sent["Reply-To"] == "support@redenvelope.example"
    assert f"[case {case.pk}]" in sent["Subject"]
    case.refresh_from_db()
    assert case.first_response_at is not None and case.status == "waiting"
    # the member answers the reply: it threads by our Message-ID
    answer = message(
        subject=sent["Subject"], Message_ID="<ans@example.com>", In_Reply_To=sent["Message-ID"]
    )
    assert mail.receive(raw(answer)).case_id == case.pk
    case.refresh_from_db()
    assert case.status == "open"


def test_the_smtp_gateway_takes_mail_and_refuses_oversize(world, settings, transactional_db):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "SUPPORT_MAIL_MAX_BYTES": 50_000}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = gateway.controller("127.0.0.1", port, workers=1)
    ctl.start()
    try:
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.send_message(message(Message_ID="<g1@example.com>"))
            with pytest.raises(smtplib.SMTPException):
                client.send_message(message(body="y" * 80_000, Message_ID="<g2@example.com>"))
    finally:
        ctl.stop()
    assert Interaction.objects.filter(message_id="<g1@example.com>").exists()
    assert not Interaction.objects.filter(message_id="<g2@example.com>").exists()


def test_the_pipe_command_stores_mail_and_refuses_garbage(world, settings):
    from typer.testing import CliRunner

    from redenvelope.cli import app

    runner = CliRunner()
    got = runner.invoke(app, ["support", "receive-mail"], input=raw(message(Message_ID="<p1@x>")))
    assert got.exit_code == 0, got.output
    assert "opened: case" in got.output
    again = runner.invoke(app, ["support", "receive-mail"], input=raw(message(Message_ID="<p1@x>")))
    assert again.exit_code == 0 and "duplicate" in again.output
    bad = runner.invoke(app, ["support", "receive-mail"], input=b"garbage without headers")
    assert bad.exit_code == 65
    assert Case.objects.count() == 1
