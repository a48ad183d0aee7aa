"""SMTP receive path: real clients against the fixture server."""
import email
import glob
import os
import shutil
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import DOMAIN, maildir_new, wait_messages

MSG = ("From: Sender <sender@remote.test>\r\nTo: alice@example.test\r\n"
       "Subject: hello\r\n\r\nHello Alice.\r\n.leading dot\r\n")


def smtp(server):
    return smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)


class Raw:
    """A line-level SMTP client for byte-exact tests."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")
        self.greeting = self.reply()

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                return lines
            lines.append(line)
            if line[3:4] != b"-":
                return lines

    def cmd(self, data):
        self.send(data)
        return self.reply()

    def code(self, data):
        r = self.cmd(data)
        return int(r[-1][:3]) if r else None

    def closed(self):
        try:
            return self.s.recv(1) == b""
        except OSError:
            return True

    def close(self):
        self.f.close()
        self.s.close()


def test_smtplib_delivers_to_maildir(server, mailroot):
    with smtp(server) as c:
        code, caps = c.ehlo("client.test")
        assert code == 250
        for ext in (b"PIPELINING", b"SIZE", b"8BITMIME",
                    b"ENHANCEDSTATUSCODES", b"CHUNKING", b"DSN",
                    b"SMTPUTF8"):
            assert ext in caps
        c.sendmail("sender@remote.test", ["alice@example.test"], MSG)
    [msg] = wait_messages(mailroot, "alice", 1)
    text = msg.decode()
    assert text.startswith("Return-Path: <sender@remote.test>\n"
                           "Delivered-To: alice@example.test\n"
                           "Received: from client.test ([127.0.0.1]:")
    # Dot-unstuffed, LF line ends in the Maildir.
    assert "\n.leading dot\n" in text
    assert "\r" not in text
    parsed = email.message_from_string(text)
    assert parsed["Subject"] == "hello"
    # Nothing left in the spool.
    assert not glob.glob(str(mailroot / "spool/*/*/mess/*"))


def test_reply_codes_and_sequence(server):
    r = Raw(server.ports["smtp"])
    assert r.greeting[0].startswith(b"220 example.test <")
    assert r.cmd(b"MAIL FROM:<a@b.test>\r\n")[0].startswith(b"503 5.5.1")
    assert r.cmd(b"FROB\r\n")[0].startswith(b"500 5.5.2")
    assert r.code(b"HELO client.test\r\n") == 250
    assert r.cmd(b"RCPT TO:<alice@example.test>\r\n")[0].startswith(
        b"503 5.5.1")
    assert r.cmd(b"DATA\r\n")[0].startswith(b"503 5.5.1")
    assert r.cmd(b"MAIL FROM:a@b.test\r\n")[0].startswith(b"501 5.")
    assert r.code(b"MAIL FROM:<a@b.test>\r\n") == 250
    assert r.cmd(b"MAIL FROM:<a@b.test>\r\n")[0].startswith(b"503 5.5.1")
    assert r.cmd(b"RCPT TO:<nobody@example.test>\r\n")[0].startswith(
        b"550 5.1.1")
    assert r.code(b"RSET\r\n") == 250
    assert r.code(b"NOOP\r\n") == 250
    assert r.cmd(b"VRFY alice@example.test\r\n")[0].startswith(b"252")
    assert r.cmd(b"HELP\r\n")[-1].startswith(b"214 ")
    assert r.cmd(b"QUIT\r\n")[0].startswith(b"221 2.0.0")
    assert r.closed()


def test_pipelining_replies_in_order(server, mailroot):
    r = Raw(server.ports["smtp"])
    assert r.code(b"EHLO client.test\r\n") == 250
    r.send(b"MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
           b"RCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
           b"DATA\r\n")
    codes = [int(r.reply()[0][:3]) for _ in range(5)]
    assert codes == [250, 250, 550, 250, 354]
    r.send(b"Subject: piped\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert r.reply()[0].startswith(b"250 2.0.0 OK <S")
    assert r.reply()[0].startswith(b"221")
    assert len(wait_messages(mailroot, "alice", 1)) == 1
    assert len(wait_messages(mailroot, "bob", 1)) == 1


@pytest.mark.parametrize("payload", [
    b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\n", b"\r\n.\r",
    b"\r\r\n", b"\nQUIT\r\n",
])
def test_smuggling_payloads_rejected(server, mailroot, payload):
    r = Raw(server.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    assert r.code(b"MAIL FROM:<s@remote.test>\r\n") == 250
    assert r.code(b"RCPT TO:<alice@example.test>\r\n") == 250
    assert r.code(b"DATA\r\n") == 354
    r.send(b"Subject: x\r\n\r\nbody" + payload +
           b"MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
           b"DATA\r\nsmuggled\r\n.\r\n")
    reply = r.reply()
    assert reply[0].startswith(b"521 5.5.2")
    assert r.closed()
    time.sleep(0.3)
    assert wait_messages(mailroot, "alice", 0, timeout=0) == []
    assert wait_messages(mailroot, "bob", 0, timeout=0) == []
    server.wait_log("bare CR or LF in message data")


def test_bare_lf_in_command_closes(server):
    r = Raw(server.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    assert r.cmd(b"MAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\r\n")[0] \
        .startswith(b"500 5.5.2")
    assert r.closed()


def test_injection_in_parameters_refused(server, mailroot):
    r = Raw(server.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    # A CR inside a parameter stays inside the line: refused, closed.
    assert r.cmd(b"MAIL FROM:<a@b.test> ENVID=x\rRCPT TO:<c@d.test>\r\n")[0] \
        .startswith(b"500 5.5.2")
    r = Raw(server.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    assert r.cmd(b"MAIL FROM:<a@b.test> ENVID=x\x00y\r\n")[0].startswith(
        b"500 5.5.2")


@pytest.mark.parametrize("rcpt", [
    b"<user%elsewhere.test@example.test>",
    b'<"user@elsewhere.test"@example.test>',
    b"<@example.test:user@elsewhere.test>",
    b"<user@elsewhere.test@example.test>",
    b"<@example.test,@other.test:user@elsewhere.test>",
    b"<user@elsewhere.test>",
])
def test_open_relay_probes_refused(mailroot, start_server, tmp_path, rcpt):
    # Deny relaying even for loopback to act like an Internet client.
    (mailroot / "smtprelay.tab").write_text("")
    srv = start_server(mailroot)
    r = Raw(srv.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    assert r.code(b"MAIL FROM:<spammer@remote.test>\r\n") == 250
    reply = r.cmd(b"RCPT TO:" + rcpt + b"\r\n")[0]
    assert reply[:1] == b"5", reply


def test_relay_allowed_from_smtprelay_tab_is_spooled(server, mailroot):
    with smtp(server) as c:
        c.sendmail("alice@example.test", ["someone@elsewhere.test"],
                   "Subject: out\r\n\r\nbody\r\n")
    server.wait_log("queue: deferred")  # no DNS in tests: it waits
    files = glob.glob(str(mailroot / "spool/*/*/rsnd/*"))
    assert len(files) == 1
    data = open(files[0], "rb").read()
    lines = data.split(b"\r\n")
    assert lines[0].startswith(b"[127.0.0.1]:")
    assert lines[1] == DOMAIN.encode()
    assert lines[2].startswith(b"S")
    # The MAIL FROM line is kept as the client sent it (smtplib adds size=).
    assert lines[3].startswith(b"MAIL FROM:<alice@example.test>")
    assert lines[4] == b"RCPT TO:<someone@elsewhere.test>"
    assert lines[5] == b"<<MAIL-DATA>>"
    assert lines[6].startswith(b"Received: from ")


def test_size_limits(mailroot, start_server):
    with open(mailroot / "server.tab", "a") as f:
        f.write('"MaxMessageSize"\t"10"\n')
    srv = start_server(mailroot)
    r = Raw(srv.ports["smtp"])
    ehlo = b"".join(r.cmd(b"EHLO client.test\r\n"))
    assert b"SIZE 10240" in ehlo
    assert r.cmd(b"MAIL FROM:<a@b.test> SIZE=20000\r\n")[0].startswith(
        b"552 5.3.4")
    assert r.code(b"MAIL FROM:<a@b.test> SIZE=100\r\n") == 250
    assert r.code(b"RCPT TO:<alice@example.test>\r\n") == 250
    assert r.code(b"DATA\r\n") == 354
    r.send(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 200 +
           b".\r\n")
    assert r.reply()[0].startswith(b"552 5.3.4")
    # The session goes on.
    assert r.code(b"MAIL FROM:<a@b.test>\r\n") == 250


def test_recipient_limit(mailroot, start_server):
    srv = start_server(mailroot, "-Sr", "2")
    r = Raw(srv.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    r.code(b"MAIL FROM:<a@b.test>\r\n")
    assert r.code(b"RCPT TO:<alice@example.test>\r\n") == 250
    assert r.code(b"RCPT TO:<bob@example.test>\r\n") == 250
    assert r.cmd(b"RCPT TO:<alice@example.test>\r\n")[0].startswith(
        b"452 4.5.3")


def test_command_line_too_long(server):
    r = Raw(server.ports["smtp"])
    assert r.cmd(b"NOOP " + b"x" * 600 + b"\r\n")[0].startswith(b"500 5.5.2")
    assert r.cmd(b"NOOP " + b"x" * 5000 + b"\r\n")[0].startswith(
        b"500 5.5.2")
    assert r.code(b"NOOP\r\n") == 250


def test_loop_detection(server, mailroot):
    hops = "".join("Received: from h%d by x; Sun, 1 Jan 2026 00:00:00 +0000"
                   "\r\n" % i for i in range(17))
    with smtp(server) as c:
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail("a@remote.test", ["alice@example.test"],
                       hops + "Subject: loop\r\n\r\nx\r\n")
    assert e.value.smtp_code == 554
    assert b"5.4.6" in e.value.smtp_error


def test_8bit_needs_8bitmime(server, mailroot):
    body = "Subject: caf\u00e9\r\n\r\ncaf\u00e9\r\n".encode()
    with smtp(server) as c:
        c.ehlo("client.test")
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail("a@remote.test", ["alice@example.test"], body)
        assert e.value.smtp_code == 554
        c.sendmail("a@remote.test", ["alice@example.test"], body,
                   mail_options=["BODY=8BITMIME"])
    [msg] = wait_messages(mailroot, "alice", 1)
    assert "caf\u00e9".encode() in msg


def test_smtputf8_address(server, mailroot):
    start = len(server.log())
    with open(mailroot / "aliases.tab", "a", encoding="utf-8") as f:
        f.write('"%s"\t"j\u00f6rg"\t"bob"\n' % DOMAIN)
    server.wait_log("configuration reloaded (aliases.tab)", start=start)
    with smtp(server) as c:
        c.ehlo("client.test")
        c.sendmail("s\u00e9nder@remote.test", ["j\u00f6rg@example.test"],
                   "Subject: utf8\r\n\r\nhi\r\n".encode(),
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [msg] = wait_messages(mailroot, "bob", 1)
    assert "Return-Path: <s\u00e9nder@remote.test>".encode() in msg


def test_bdat(server, mailroot):
    r = Raw(server.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    assert r.code(b"MAIL FROM:<s@remote.test>\r\n") == 250
    assert r.code(b"RCPT TO:<alice@example.test>\r\n") == 250
    part1 = b"Subject: chunks\r\n\r\n"
    part2 = b".not stuffed\r\nend\r\n"
    assert r.cmd(b"BDAT %d\r\n" % len(part1) + part1)[0].startswith(b"250")
    reply = r.cmd(b"BDAT %d LAST\r\n" % len(part2) + part2)[0]
    assert reply.startswith(b"250 2.0.0 OK <S")
    [msg] = wait_messages(mailroot, "alice", 1)
    assert msg.endswith(b"\n.not stuffed\nend\n")


def test_dsn_parameters_kept_in_spool(server, mailroot):
    (mailroot / "smtprelay.tab").write_text('"127.0.0.0"\t"255.0.0.0"\n')
    with smtp(server) as c:
        c.ehlo("client.test")
        c.sendmail("a@example.test", ["x@elsewhere.test"],
                   "Subject: dsn\r\n\r\nx\r\n",
                   mail_options=["RET=HDRS", "ENVID=abc+2B1"],
                   rcpt_options=["NOTIFY=FAILURE,DELAY",
                                 "ORCPT=rfc822;x@elsewhere.test"])
    server.wait_log("queue: deferred")  # no DNS in tests: it waits
    [f] = glob.glob(str(mailroot / "spool/*/*/rsnd/*"))
    lines = open(f, "rb").read().split(b"\r\n")
    assert lines[3].startswith(b"MAIL FROM:<a@example.test> ")
    assert lines[3].endswith(b" RET=HDRS ENVID=abc+2B1")
    assert lines[4] == (b"RCPT TO:<x@elsewhere.test> NOTIFY=FAILURE,DELAY"
                        b" ORCPT=rfc822;x@elsewhere.test")


def test_bad_dsn_parameters(server):
    r = Raw(server.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    assert r.cmd(b"MAIL FROM:<a@b.test> RET=SOME\r\n")[0][:1] == b"5"
    assert r.cmd(b"MAIL FROM:<a@b.test> FOO=bar\r\n")[0].startswith(b"555")
    assert r.code(b"MAIL FROM:<a@b.test>\r\n") == 250
    assert r.cmd(b"RCPT TO:<alice@example.test> NOTIFY=NEVER,DELAY\r\n")[0][
        :1] == b"5"


def test_null_sender(server, mailroot):
    with smtp(server) as c:
        c.sendmail("<>", ["alice@example.test"], "Subject: bounce\r\n\r\nx\r\n")
    [msg] = wait_messages(mailroot, "alice", 1)
    assert msg.startswith(b"Return-Path: <>\n")


def test_disconnect_mid_data_leaves_nothing(server, mailroot):
    r = Raw(server.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    r.code(b"MAIL FROM:<s@remote.test>\r\n")
    r.code(b"RCPT TO:<alice@example.test>\r\n")
    assert r.code(b"DATA\r\n") == 354
    r.send(b"Subject: partial\r\n\r\nhalf a message")
    r.close()
    server.wait_log("disconnected during DATA")
    assert wait_messages(mailroot, "alice", 0, timeout=0) == []
    assert not glob.glob(str(mailroot / "spool/*/*/*/*"))


def test_swaks_with_pipelining(server, mailroot):
    for pipe in ([], ["--pipeline"]):
        p = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port",
             str(server.ports["smtp"]), "--from", "s@remote.test", "--to",
             "bob@example.test", "--helo", "swaks.test", "--header",
             "Subject: swaks"] + pipe, capture_output=True, text=True,
            timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
    assert len(wait_messages(mailroot, "bob", 2)) == 2


def test_curl_smtp(server, mailroot, tmp_path):
    mail = tmp_path / "mail.txt"
    mail.write_text("Subject: curl\r\n\r\nfrom curl\r\n")
    p = subprocess.run(
        ["curl", "-sS", "smtp://127.0.0.1:%d/curl.test" %
         server.ports["smtp"], "--mail-from", "s@remote.test",
         "--mail-rcpt", "alice@example.test", "-T", str(mail)],
        capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    [msg] = wait_messages(mailroot, "alice", 1)
    assert b"from curl" in msg


def test_smtp_source_concurrency(server, mailroot):
    sessions, per = 50, 20
    p = subprocess.run(
        ["smtp-source", "-c", "-s", str(sessions), "-m",
         str(sessions * per), "-f", "s@remote.test", "-t",
         "bob@example.test", "127.0.0.1:%d" % server.ports["smtp"]],
        capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    msgs = wait_messages(mailroot, "bob", sessions * per, timeout=60)
    assert len(msgs) == sessions * per
    ids = set()
    for m in msgs:
        rec = [l for l in m.split(b"\n") if l.startswith(b"\tid <S")]
        ids.add(rec[0])
    assert len(ids) == sessions * per


def test_crash_after_250_loses_nothing(mailroot, start_server):
    """SIGKILL right after the 250: the message is delivered at restart."""
    srv = start_server(mailroot)
    maildir = mailroot / "domains" / DOMAIN / "alice" / "Maildir"
    r = Raw(srv.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    assert r.code(b"MAIL FROM:<s@remote.test>\r\n") == 250
    assert r.code(b"RCPT TO:<alice@example.test>\r\n") == 250
    # Make local delivery impossible so the message stays spooled.
    shutil.rmtree(maildir)
    maildir.write_text("not a directory")
    assert r.code(b"DATA\r\n") == 354
    assert r.cmd(b"Subject: durable\r\n\r\nkeep me\r\n.\r\n")[0] \
        .startswith(b"250 2.0.0 OK")
    srv.wait_log("; kept")
    srv.proc.kill()
    srv.proc.wait()
    srv.expected_rc = -9
    assert glob.glob(str(mailroot / "spool/*/*/mess/*"))
    maildir.unlink()
    srv2 = start_server(mailroot)
    [msg] = wait_messages(mailroot, "alice", 1)
    assert b"keep me" in msg
    assert not glob.glob(str(mailroot / "spool/*/*/mess/*"))
    assert srv2.proc.poll() is None


def test_idle_timeout(mailroot, start_server):
    srv = start_server(mailroot, "-St", "1")
    r = Raw(srv.ports["smtp"])
    reply = r.reply()
    assert reply and reply[0].startswith(b"421 4.4.2")
    assert r.closed()


def test_max_errors(mailroot, start_server):
    with open(mailroot / "server.tab", "a") as f:
        f.write('"SMTP-MaxErrors"\t"3"\n')
    srv = start_server(mailroot)
    r = Raw(srv.ports["smtp"])
    r.cmd(b"FOO\r\n")
    r.cmd(b"BAR\r\n")
    reply = r.cmd(b"BAZ\r\n")
    assert reply[0].startswith(b"500")
    assert r.reply()[0].startswith(b"421 4.7.0")
    assert r.closed()


def test_custom_smtp_message(mailroot, start_server):
    with open(mailroot / "server.tab", "a") as f:
        f.write('"CustomSMTPMessage"\t"Contact postmaster@example.test"\n')
    srv = start_server(mailroot)
    r = Raw(srv.ports["smtp"])
    assert r.cmd(b"FOO\r\n")[0].rstrip().endswith(
        b" - Contact postmaster@example.test")
    assert not r.cmd(b"NOOP\r\n")[0].rstrip().endswith(b"example.test")


def set_user_var(root, user, name, value):
    path = root / "domains" / DOMAIN / user / "user.tab"
    lines = [l for l in path.read_text().splitlines()
             if not l.startswith('"%s"\t' % name)]
    lines.append('"%s"\t"%s"' % (name, value))
    path.write_text("\n".join(lines) + "\n")


def test_receive_disabled_and_quota(server, mailroot):
    set_user_var(mailroot, "bob", "ReceiveEnable", "0")
    set_user_var(mailroot, "alice", "MaxMBSize", "1")
    big = maildir_new(mailroot, "alice") / "1.M1P1Q1.host,S=2048"
    big.write_bytes(b"x" * 2048)
    r = Raw(server.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    assert r.code(b"MAIL FROM:<s@remote.test>\r\n") == 250
    assert r.cmd(b"RCPT TO:<bob@example.test>\r\n")[0].startswith(
        b"550 5.2.1")
    assert r.cmd(b"RCPT TO:<alice@example.test>\r\n")[0].startswith(
        b"452 4.2.2")
    # The server caches mailbox sizes by directory mtime, whose clock is
    # coarse: let it tick before the change.
    time.sleep(0.05)
    big.unlink()
    assert r.code(b"RCPT TO:<alice@example.test>\r\n") == 250


def make_list(root, name, members, closed=False):
    with open(root / "mailusers.tab", "a") as f:
        f.write('"%s"\t"%s"\t"11001611"\t77\t"%s"\t"M"\n' % (DOMAIN, name,
                                                            name))
    d = root / "domains" / DOMAIN / name
    d.mkdir()
    (d / "user.tab").write_text('"ClosedML"\t"%d"\n' % int(closed))
    (d / "mlusers.tab").write_text(
        "".join('"%s"\t"%s"\n' % m for m in members))


def test_mailing_list_expansion(server, mailroot):
    start = len(server.log())
    make_list(mailroot, "team", [("alice@example.test", "RW"),
                                 ("bob@example.test", "R"),
                                 ("carol@example.test", "W")])
    server.wait_log("configuration reloaded (mailusers.tab)", start=start)
    with smtp(server) as c:
        c.sendmail("s@remote.test", ["team@example.test"],
                   "Subject: to the list\r\n\r\nhi all\r\n")
    [a] = wait_messages(mailroot, "alice", 1)
    [b] = wait_messages(mailroot, "bob", 1)
    for m in (a, b):
        assert b"Reply-To: <team@example.test>\n" in m
        assert b"hi all" in m
    server.wait_log("list <team@example.test> expanded to 2 member(s)")


def test_closed_mailing_list(server, mailroot):
    start = len(server.log())
    make_list(mailroot, "board", [("alice@example.test", "RW")], closed=True)
    server.wait_log("configuration reloaded (mailusers.tab)", start=start)
    r = Raw(server.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    r.code(b"MAIL FROM:<outsider@remote.test>\r\n")
    assert r.cmd(b"RCPT TO:<board@example.test>\r\n")[0].startswith(
        b"550 5.7.1")
    r.code(b"RSET\r\n")
    r.code(b"MAIL FROM:<alice@example.test>\r\n")
    assert r.code(b"RCPT TO:<board@example.test>\r\n") == 250


def test_extaliases_return_path(server, mailroot):
    start = len(server.log())
    (mailroot / "extaliases.tab").write_text(
        '"ext.test"\t"bob"\t"%s"\t"bob"\n' % DOMAIN)
    server.wait_log("configuration reloaded (extaliases.tab)", start=start)
    with smtp(server) as c:
        c.sendmail("bob@ext.test", ["alice@example.test"],
                   "Subject: internal\r\n\r\nx\r\n")
    [msg] = wait_messages(mailroot, "alice", 1)
    assert msg.startswith(b"Return-Path: <bob@example.test>\n")


def test_smtp_log(mailroot, start_server):
    srv = start_server(mailroot, "-Sl")
    with smtp(srv) as c:
        c.sendmail("s@remote.test", ["alice@example.test"],
                   "Subject: log\r\n\r\nx\r\n")
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            c.sendmail("s@remote.test", ["ghost@example.test"], "x")
    deadline = time.monotonic() + 5
    recs = []
    while time.monotonic() < deadline:
        logs = list((mailroot / "logs").glob("smtp-*"))
        if logs:
            recs = [l.split("\t") for l in logs[0].read_text().splitlines()]
            if len(recs) >= 2:
                break
        time.sleep(0.05)
    ok = [r for r in recs if r[9] == '"RECV=OK"']
    bad = [r for r in recs if r[9] == '"RCPT=EAVAIL"']
    assert ok and ok[0][7] == '"alice@example.test"'
    assert ok[0][6] == '"s@remote.test"' and ok[0][8].startswith('"S')
    assert bad and bad[0][7] == '"ghost@example.test"'
    assert all(len(r) == 13 for r in recs)


def test_user_removed_after_acceptance_bounces(mailroot, start_server):
    """Accepted for bob, bob vanishes before delivery: the sender (alice,
    local) gets an RFC 3464 report, the original is frozen."""
    srv = start_server(mailroot)
    maildir = mailroot / "domains" / DOMAIN / "bob" / "Maildir"
    r = Raw(srv.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    assert r.code(b"MAIL FROM:<alice@example.test>\r\n") == 250
    assert r.code(b"RCPT TO:<bob@example.test>\r\n") == 250
    shutil.rmtree(maildir)
    maildir.write_text("blocks delivery")
    assert r.code(b"DATA\r\n") == 354
    assert r.code(b"Subject: doomed\r\n\r\nx\r\n.\r\n") == 250
    srv.wait_log("; kept")
    r.close()
    srv.stop()
    maildir.unlink()
    users = mailroot / "mailusers.tab"
    users.write_text("".join(l + "\n" for l in users.read_text().splitlines()
                             if '"bob"' not in l))
    start_server(mailroot)
    # alice gets it as the sender and, through the postmaster alias, as
    # ErrorsAdmin (postroom init sets ErrorsAdmin to postmaster@domain).
    reports = wait_messages(mailroot, "alice", 2)
    assert len(reports) == 2
    report = reports[0]
    assert b"Return-Path: <>\n" in report
    assert b"multipart/report" in report
    assert b"report-type=delivery-status" in report
    assert b"Final-Recipient: rfc822; bob@example.test" in report
    assert b"Status: 5.1.1" in report
    assert glob.glob(str(mailroot / "spool/*/*/froz/*"))


@pytest.mark.parametrize("hdr_type,client,server_addr", [
    (0, True, False), (1, True, True), (2, False, False), (3, True, False),
    (4, True, True),
])
def test_received_header_types(mailroot, start_server, hdr_type, client,
                               server_addr):
    with open(mailroot / "server.tab", "a") as f:
        f.write('"ReceivedHdrType"\t"%d"\n' % hdr_type)
    srv = start_server(mailroot)
    with smtp(srv) as c:
        c.sendmail("s@remote.test", ["alice@example.test"],
                   "Subject: hdr\r\n\r\nx\r\n")
    [msg] = wait_messages(mailroot, "alice", 1)
    rec = msg.split(b"\nSubject:")[0].decode()
    assert rec.count("([127.0.0.1]:") == int(client) + int(server_addr)
    assert "by example.test" in rec


def test_server_killed_mid_data_keeps_nothing(mailroot, start_server):
    srv = start_server(mailroot)
    r = Raw(srv.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    r.code(b"MAIL FROM:<s@remote.test>\r\n")
    r.code(b"RCPT TO:<alice@example.test>\r\n")
    assert r.code(b"DATA\r\n") == 354
    r.send(b"Subject: cut\r\n\r\n" + b"half\r\n" * 1000)
    time.sleep(0.3)
    srv.proc.kill()
    srv.proc.wait()
    srv.expected_rc = -9
    r.close()
    start_server(mailroot)
    time.sleep(0.5)
    assert wait_messages(mailroot, "alice", 0, timeout=0) == []
    assert not glob.glob(str(mailroot / "spool/*/*/*/*"))


def test_session_limit(mailroot, start_server):
    srv = start_server(mailroot, "-SX", "2")
    a, b = Raw(srv.ports["smtp"]), Raw(srv.ports["smtp"])
    s = socket.create_connection(("127.0.0.1", srv.ports["smtp"]), timeout=5)
    assert s.recv(200).startswith(b"421 4.3.2")
    s.close()
    a.close()
    deadline = time.monotonic() + 5
    while True:
        c = Raw(srv.ports["smtp"])
        if c.greeting and c.greeting[0].startswith(b"220"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    b.close()
    c.close()


def test_corrupt_spool_file_is_quarantined(mailroot, start_server):
    mess = mailroot / "spool" / "0" / "0" / "mess"
    mess.mkdir(parents=True, exist_ok=True)
    (mess / "123.1.1.1.junk").write_bytes(b"\x00garbage without header\r\n")
    srv = start_server(mailroot)
    assert (mailroot / "spool" / "quarantine" / "123.1.1.1.junk").exists()
    assert not (mess / "123.1.1.1.junk").exists()
    # The server still works.
    with smtp(srv) as c:
        c.sendmail("s@remote.test", ["alice@example.test"], "Subject: ok\r\n\r\n")
    assert len(wait_messages(mailroot, "alice", 1)) == 1


def test_slow_client(server, mailroot):
    r = Raw(server.ports["smtp"])
    for line in (b"EHLO client.test\r\n", b"MAIL FROM:<s@remote.test>\r\n",
                 b"RCPT TO:<alice@example.test>\r\n", b"DATA\r\n"):
        for ch in line:
            r.send(bytes([ch]))
            time.sleep(0.002)
        r.reply()
    for ch in b"Subject: slow\r\n\r\nbody\r\n.\r\n":
        r.send(bytes([ch]))
        time.sleep(0.002)
    assert r.reply()[0].startswith(b"250 2.0.0 OK")
    assert len(wait_messages(mailroot, "alice", 1)) == 1


def test_bdat_out_of_sequence_is_consumed(server, mailroot):
    r = Raw(server.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    chunk = b"MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
    assert r.cmd(b"BDAT %d LAST\r\n" % len(chunk) + chunk)[0].startswith(
        b"503 5.5.1")
    # The chunk was data, not commands: the session is still clean.
    assert r.cmd(b"RCPT TO:<bob@example.test>\r\n")[0].startswith(b"503")
    assert r.code(b"NOOP\r\n") == 250


def test_bdat_too_big_chunks_are_consumed(mailroot, start_server):
    with open(mailroot / "server.tab", "a") as f:
        f.write('"MaxMessageSize"\t"1"\n')
    srv = start_server(mailroot)
    r = Raw(srv.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    r.code(b"MAIL FROM:<s@remote.test>\r\n")
    r.code(b"RCPT TO:<alice@example.test>\r\n")
    big = b"x" * 2000 + b"\r\n"
    assert r.cmd(b"BDAT %d\r\n" % len(big) + big)[0].startswith(b"552")
    tail = b"QUIT\r\n"
    assert r.cmd(b"BDAT %d LAST\r\n" % len(tail) + tail)[0].startswith(
        b"552")
    assert r.code(b"NOOP\r\n") == 250


def test_shutdown_during_data_finishes_the_message(server, mailroot):
    import signal as sig
    r = Raw(server.ports["smtp"])
    r.code(b"EHLO client.test\r\n")
    r.code(b"MAIL FROM:<s@remote.test>\r\n")
    r.code(b"RCPT TO:<alice@example.test>\r\n")
    assert r.code(b"DATA\r\n") == 354
    r.send(b"Subject: last one\r\n\r\n")
    idle = Raw(server.ports["smtp"])
    server.signal(sig.SIGTERM)
    # The idle session is told at once.
    assert idle.reply()[0].startswith(b"421 4.3.2")
    r.send(b"body\r\n.\r\n")
    assert r.reply()[0].startswith(b"250 2.0.0 OK")
    assert r.reply()[0].startswith(b"421 4.3.2")
    assert server.wait_exit() == 0
    assert len(wait_messages(mailroot, "alice", 1)) == 1


def test_startup_cleanup(mailroot, start_server):
    """docs/QUEUE.md T8: temp/ and lock/ files and orphan slogs go; a
    spooled message and its slog stay."""
    srv = start_server(mailroot)
    with smtp(srv) as c:
        c.sendmail("alice@example.test", ["x@elsewhere.test"],
                   "Subject: waits\r\n\r\nx\r\n")
    srv.wait_log("queue: deferred")     # no DNS: it waits in rsnd/
    srv.stop()
    [kept] = glob.glob(str(mailroot / "spool/*/*/rsnd/*"))
    bucket = os.path.dirname(os.path.dirname(kept))
    name = os.path.basename(kept)
    for d, n in (("temp", "t1"), ("lock", "l1"), ("slog", "orphan"),
                 ("slog", name)):
        os.makedirs(os.path.join(bucket, d), exist_ok=True)
        open(os.path.join(bucket, d, n), "w").write("x")
    srv = start_server(mailroot)
    assert os.path.exists(kept)
    assert os.path.exists(os.path.join(bucket, "slog", name))
    for d, n in (("temp", "t1"), ("lock", "l1"), ("slog", "orphan")):
        assert not os.path.exists(os.path.join(bucket, d, n)), (d, n)
