"""SMTP over TLS (STARTTLS, SMTPS), the submission port and SMTP AUTH.

Everything runs against the real binary; TLS clients never verify the
server's self-signed certificate.
"""
import base64
import glob
import hashlib
import hmac
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time
import warnings

import pytest

from conftest import DOMAIN, client_ctx, set_vars, wait_messages

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN
FOREIGN = "someone@elsewhere.test"
AUTH_OK = b"235 2.7.0 Authentication successful"
AUTH_BAD = b"535 5.7.8 Authentication credentials invalid"
ALL_MECHS = b"250-AUTH PLAIN LOGIN CRAM-MD5\r\n"


# ---------------------------------------------------------------- helpers

def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data)


def plain_resp(user, password, authz=""):
    return b64("%s\0%s\0%s" % (authz, user, password))


def cram_resp(user, password, challenge):
    digest = hmac.new(password.encode(), challenge.encode(),
                      hashlib.md5).hexdigest()
    return b64("%s %s" % (user, digest))


_clients = []


@pytest.fixture(autouse=True)
def _close_clients(start_server):
    """Close the test's connections before its servers stop, so they do
    not wait for them to go away (a traceback can keep a Client alive)."""
    yield
    while _clients:
        _clients.pop().close()


class Client:
    """A line-level SMTP client that can switch to TLS.

    Lines are read with recv() into our own buffer (no makefile), so when
    the connection switches to TLS nothing read ahead in clear text is
    lost or mistaken for a TLS reply: `leftover` shows it.
    """

    def __init__(self, port, tls=False, ctx=None, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port),
                                          timeout=timeout)
        _clients.append(self)
        self.buf = b""
        if tls:
            self.s = (ctx or client_ctx()).wrap_socket(self.s)
        self.greeting = self.reply()
        m = re.search(rb"<[^<>]+>", b"".join(self.greeting))
        self.ts = m.group(0).decode() if m else None

    def send(self, data):
        self.s.sendall(data)

    def readline(self):
        while b"\n" not in self.buf:
            try:
                data = self.s.recv(4096)
            except (ConnectionResetError, ssl.SSLError):
                data = b""
            if not data:
                line, self.buf = self.buf, b""
                return line
            self.buf += data
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def reply(self):
        lines = []
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            if line[3:4] != b"-":
                return lines

    def cmd(self, data):
        self.send(data)
        return self.reply()

    def first(self, data):
        """First line of the reply to `data` (b"" when closed)."""
        r = self.cmd(data)
        return r[0] if r else b""

    def code(self, data):
        r = self.cmd(data)
        return int(r[-1][:3]) if r else None

    def ehlo(self, name=b"client.test"):
        r = self.cmd(b"EHLO " + name + b"\r\n")
        assert r and r[-1].startswith(b"250 "), r
        return b"".join(r)

    def tls_wrap(self, ctx=None):
        self.leftover, self.buf = self.buf, b""
        self.s = (ctx or client_ctx()).wrap_socket(self.s)

    def starttls(self, ctx=None):
        r = self.first(b"STARTTLS\r\n")
        assert r.startswith(b"220 2.0.0 Ready to start TLS"), r
        self.tls_wrap(ctx)
        assert self.leftover == b""

    def auth_plain(self, user, password, authz=""):
        return self.first(b"AUTH PLAIN " + plain_resp(user, password, authz)
                          + b"\r\n")

    def until_closed(self):
        """Everything the server sends until it closes."""
        data = self.buf
        self.buf = b""
        while True:
            try:
                chunk = self.s.recv(4096)
            except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
                return data
            if not chunk:
                return data
            data += chunk

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def tls_client(port, ehlo=True):
    """Connected to the plain port, STARTTLS done, EHLO sent."""
    c = Client(port)
    c.ehlo()
    c.starttls()
    if ehlo:
        c.ehlo()
    return c


def add_var_live(server, name, value, timeout=10):
    """Append a server.tab variable to a running server, wait for reload."""
    start = len(server.log())
    with open(server.root / "server.tab", "a") as f:
        f.write('"%s"\t"%s"\n' % (name, value))
    server.wait_log("configuration reloaded (server.tab)", start=start,
                    timeout=timeout)


def no_relay(root):
    """Loopback may not relay by smtprelay.tab: only AUTH can allow it."""
    (root / "smtprelay.tab").write_text("")


def spooled_for(root, rcpt, timeout=3):
    """Spool files (mess/, rsnd/ or froz/) that carry RCPT TO:<rcpt>.  The
    outbound queue may be moving the file from mess/ to rsnd/ while we
    look, so look again for a moment before answering "none"."""
    needle = b"RCPT TO:<" + rcpt.encode() + b">"
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for p in glob.glob(str(root / "spool/*/*/*/*")):
            if p.split(os.sep)[-2] not in ("mess", "rsnd", "froz"):
                continue
            try:
                if needle in open(p, "rb").read():
                    found.append(p)
            except OSError:
                pass                    # moved meanwhile
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def send_message(c, sender, rcpt, subject="tls test"):
    """MAIL/RCPT/DATA on a ready session; returns the final reply line."""
    assert c.first(b"MAIL FROM:<%s>\r\n" % sender.encode()).startswith(
        b"250")
    r = c.first(b"RCPT TO:<%s>\r\n" % rcpt.encode())
    assert r.startswith(b"250"), r
    assert c.code(b"DATA\r\n") == 354
    return c.first(b"Subject: %s\r\n\r\nbody\r\n.\r\n" % subject.encode())


def peer_cn(der):
    """Subject CN of a DER certificate."""
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError:
        p = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout",
                            "-subject"], input=der, capture_output=True,
                           timeout=30)
        m = re.search(rb"CN\s*=\s*([^,/\n]+)", p.stdout)
        return m.group(1).strip().decode() if m else None
    cert = x509.load_der_x509_certificate(der)
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def make_cert(tmp_path, cn):
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    key, cert = tmp_path / (cn + ".key"), tmp_path / (cn + ".cert")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=" + cn],
                   check=True, capture_output=True, timeout=60)
    return key, cert


def need(tool):
    if shutil.which(tool) is None:
        pytest.skip("%s not installed" % tool)


# ------------------------------------------------------- EHLO / STARTTLS

def test_ehlo_plain_offers_starttls_and_no_auth(server):
    c = Client(server.ports["smtp"])
    ehlo = c.ehlo()
    assert b"250-STARTTLS\r\n" in ehlo
    # SmtpNoTLSAuths unset: nothing is offered in clear text.
    assert b"AUTH" not in ehlo
    assert c.first(b"AUTH PLAIN " + plain_resp(ALICE, "secret") +
                   b"\r\n").startswith(b"538 5.7.11")
    assert c.first(b"AUTH LOGIN\r\n").startswith(b"538 5.7.11")
    assert c.first(b"AUTH CRAM-MD5\r\n").startswith(b"538 5.7.11")
    assert c.first(b"AUTH FOO\r\n").startswith(b"504 5.5.4")


def test_starttls_resets_session(server):
    c = Client(server.ports["smtp"])
    c.ehlo()
    c.starttls()
    # No state kept: EHLO is needed again.
    assert c.first(b"MAIL FROM:<a@remote.test>\r\n").startswith(b"503 5.5.1")
    ehlo = c.ehlo()
    assert ALL_MECHS in ehlo
    assert b"STARTTLS" not in ehlo
    assert c.first(b"STARTTLS\r\n").startswith(b"503 5.5.1")
    assert c.code(b"NOOP\r\n") == 250
    # The session goes on: a message delivered over TLS.
    assert send_message(c, "s@remote.test", ALICE).startswith(b"250 2.0.0")
    [msg] = wait_messages(server.root, "alice", 1)
    assert b"\n\t(using TLSv1." in msg
    # Not authenticated: no X-AuthUser.
    assert b"X-AuthUser" not in msg


def test_starttls_forgets_authentication(mailroot, start_server):
    no_relay(mailroot)
    set_vars(mailroot, SmtpNoTLSAuths="PLAIN", SMTP_AuthFailDelay="0")
    srv = start_server(mailroot)
    c = Client(srv.ports["smtp"])
    ehlo = c.ehlo()
    assert b"250-AUTH PLAIN\r\n" in ehlo and b"250-STARTTLS" in ehlo
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    c.starttls()
    c.ehlo()
    assert c.first(b"MAIL FROM:<alice@example.test>\r\n").startswith(b"250")
    assert c.first(b"RCPT TO:<%s>\r\n" % FOREIGN.encode()).startswith(
        b"550 5.7.1")
    assert c.code(b"RSET\r\n") == 250
    # Not "Already authenticated": the identity was dropped.
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    assert send_message(c, ALICE, FOREIGN).startswith(b"250 2.0.0")


def test_starttls_refused_in_transaction_and_with_argument(server):
    c = Client(server.ports["smtp"])
    c.ehlo()
    assert c.first(b"STARTTLS now\r\n").startswith(b"501")
    assert c.code(b"MAIL FROM:<a@remote.test>\r\n") == 250
    assert c.first(b"STARTTLS\r\n").startswith(b"503")
    assert c.code(b"RCPT TO:<alice@example.test>\r\n") == 250
    assert c.first(b"STARTTLS\r\n").startswith(b"503")
    assert c.code(b"RSET\r\n") == 250
    c.starttls()
    c.ehlo()


def test_starttls_before_ehlo(server):
    c = Client(server.ports["smtp"])
    c.starttls()
    assert ALL_MECHS in c.ehlo()


def test_starttls_disabled(mailroot, start_server):
    set_vars(mailroot, EnableSMTP_TLS="0")
    srv = start_server(mailroot)
    c = Client(srv.ports["smtp"])
    assert b"STARTTLS" not in c.ehlo()
    assert c.first(b"STARTTLS\r\n").startswith(b"454 4.7.0")
    # The session is still usable in clear text.
    assert c.code(b"NOOP\r\n") == 250


def test_no_certificate_no_starttls(mailroot, start_server):
    (mailroot / "server.cert").unlink()
    (mailroot / "server.key").unlink()
    srv = start_server(mailroot)
    c = Client(srv.ports["smtp"])
    assert b"STARTTLS" not in c.ehlo()
    assert c.first(b"STARTTLS\r\n").startswith(b"454 4.7.0")
    assert c.code(b"NOOP\r\n") == 250


def test_starttls_command_injection_discarded(server):
    start = len(server.log())
    c = Client(server.ports["smtp"])
    c.ehlo(b"x")
    c.send(b"STARTTLS\r\nRSET\r\n")
    r = c.reply()
    assert r and r[0].startswith(b"220 2.0.0"), r
    c.tls_wrap()
    # Nothing else came in clear text before the handshake.
    assert c.leftover == b""
    r = c.cmd(b"EHLO x\r\n")
    assert r[0].startswith(b"250-"), r
    assert r[-1].startswith(b"250 ")
    # Exactly one reply per command: no RSET reply is waiting anywhere.
    c.send(b"NOOP\r\nQUIT\r\n")
    rest = c.until_closed()
    lines = rest.split(b"\r\n")
    assert lines[0].startswith(b"250 2.0.0"), rest
    assert lines[1].startswith(b"221 2.0.0"), rest
    assert lines[2:] == [b""], rest
    server.wait_log("octet(s) sent after the TLS command discarded",
                    start=start)


def test_starttls_injection_in_same_packet_as_ehlo(server):
    """Everything pipelined after STARTTLS goes, even a whole transaction."""
    c = Client(server.ports["smtp"])
    c.send(b"EHLO x\r\nSTARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n"
           b"RCPT TO:<bob@example.test>\r\nDATA\r\nevil\r\n.\r\n")
    assert c.reply()[-1].startswith(b"250 ")
    r = c.reply()
    assert r and r[0].startswith(b"220 2.0.0"), r
    c.tls_wrap()
    assert c.leftover == b""
    assert c.first(b"EHLO x\r\n").startswith(b"250-")
    assert c.first(b"RCPT TO:<bob@example.test>\r\n").startswith(b"503")
    c.send(b"QUIT\r\n")
    assert c.until_closed().startswith(b"221 ")
    time.sleep(0.2)
    assert wait_messages(server.root, "bob", 0, timeout=0) == []


# ------------------------------------------------------------------ SMTPS

def test_smtps_implicit_tls(server):
    c = Client(server.ports["smtps"], tls=True)
    assert c.greeting[0].startswith(b"220 example.test <")
    assert c.s.version() in ("TLSv1.2", "TLSv1.3")
    ehlo = c.ehlo()
    assert ALL_MECHS in ehlo
    assert b"STARTTLS" not in ehlo
    assert c.first(b"STARTTLS\r\n").startswith(b"503 5.5.1")


def test_smtps_refused_by_ipmap(mailroot, start_server):
    """A client refused at connect still gets its 421 inside TLS."""
    (mailroot / "smtp.ipmap.tab").write_text(
        '"127.0.0.0"\t"255.0.0.0"\t"DENY"\t"1"\n')
    srv = start_server(mailroot)
    c = Client(srv.ports["smtps"], tls=True)
    assert c.greeting[0].startswith(b"421 ")
    srv.wait_log("refused by smtp.ipmap.tab")


def test_smtps_commands_pipelined_with_handshake(server):
    """Commands sent right after the handshake, before the greeting is
    read: every reply arrives before the connection closes."""
    for _ in range(5):
        s = client_ctx().wrap_socket(socket.create_connection(
            ("127.0.0.1", server.ports["smtps"]), timeout=10))
        s.sendall(b"EHLO client.test\r\nNOOP\r\nQUIT\r\n")
        c = Client.__new__(Client)
        c.s, c.buf = s, b""
        data = c.until_closed()
        s.close()
        assert data.startswith(b"220 "), data
        assert b"\r\n250 SMTPUTF8\r\n250 2.0.0 OK\r\n221 2.0.0 " in data, \
            data


def test_smtps_smtplib(server, mailroot):
    with smtplib.SMTP_SSL("127.0.0.1", server.ports["smtps"],
                          context=client_ctx(), timeout=10) as c:
        code, _ = c.ehlo("client.test")
        assert code == 250
        assert not c.has_extn("starttls")
        assert set(c.esmtp_features["auth"].split()) == {
            "PLAIN", "LOGIN", "CRAM-MD5"}
        c.login(ALICE, "secret")
        c.sendmail(ALICE, [BOB], "Subject: smtps\r\n\r\nover smtps\r\n")
    [msg] = wait_messages(mailroot, "bob", 1)
    text = msg.decode()
    assert "\nX-AuthUser: alice@example.test\nReceived: from client.test" \
        in text
    assert "(using TLSv1." in text


def test_smtplib_starttls_login_each_mechanism(server, mailroot):
    for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"],
                          timeout=10) as c:
            c.ehlo("client.test")
            assert c.has_extn("starttls")
            assert not c.has_extn("auth")
            c.starttls(context=client_ctx())
            c.ehlo("client.test")
            assert not c.has_extn("starttls")
            c.user, c.password = BOB, "hunter2"
            method = {"PLAIN": c.auth_plain, "LOGIN": c.auth_login,
                      "CRAM-MD5": c.auth_cram_md5}[mech]
            code, _ = c.auth(mech, method)
            assert code == 235
            c.sendmail(BOB, [ALICE], "Subject: %s\r\n\r\nx\r\n" % mech)
    msgs = wait_messages(mailroot, "alice", 3)
    assert len(msgs) == 3
    for m in msgs:
        assert b"\nX-AuthUser: bob@example.test\nReceived: " in m


# ------------------------------------------------------------ submission

def test_submission_requires_tls_then_auth(mailroot, start_server):
    no_relay(mailroot)
    srv = start_server(mailroot)
    c = Client(srv.ports["submission"])
    ehlo = c.ehlo()
    assert b"250-STARTTLS" in ehlo
    assert b"AUTH" not in ehlo
    assert c.first(b"MAIL FROM:<alice@example.test>\r\n") == \
        b"530 5.7.0 Must issue a STARTTLS command first\r\n"
    c.starttls()
    assert ALL_MECHS in c.ehlo()
    assert c.first(b"MAIL FROM:<alice@example.test>\r\n") == \
        b"530 5.7.0 Authentication required\r\n"
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    assert send_message(c, ALICE, FOREIGN).startswith(b"250 2.0.0 OK <S")
    assert len(spooled_for(mailroot, FOREIGN)) == 1
    # Also for a local recipient.
    assert send_message(c, ALICE, BOB).startswith(b"250 2.0.0 OK <S")
    [msg] = wait_messages(mailroot, "bob", 1)
    assert b"\nX-AuthUser: alice@example.test\nReceived: " in msg
    assert b"(using TLSv1." in msg


def test_submission_port_config_override(mailroot, start_server):
    srv = start_server(mailroot)
    add_var_live(srv, "SmtpConfig-127.0.0.1,%d" % srv.ports["submission"],
                 "")
    c = Client(srv.ports["submission"])
    c.ehlo()
    assert c.code(b"MAIL FROM:<s@remote.test>\r\n") == 250


def test_submission_default_kept_with_global_smtpconfig(mailroot,
                                                        start_server):
    set_vars(mailroot, SmtpConfig="")
    srv = start_server(mailroot)
    c = Client(srv.ports["submission"])
    c.ehlo()
    assert c.first(b"MAIL FROM:<s@remote.test>\r\n").startswith(
        b"530 5.7.0 Must issue a STARTTLS")


def test_submission_default_kept_with_ip_smtpconfig(mailroot, start_server):
    """Only SmtpConfig-IP,PORT replaces submission's MailAuth,WantTLS."""
    set_vars(mailroot, **{"SmtpConfig-127.0.0.1": "WantTLS"})
    srv = start_server(mailroot)
    # The plain port takes SmtpConfig-127.0.0.1.
    c = Client(srv.ports["smtp"])
    c.ehlo()
    assert c.first(b"MAIL FROM:<s@remote.test>\r\n").startswith(
        b"530 5.7.0 Must issue a STARTTLS")
    c = tls_client(srv.ports["submission"])
    assert c.first(b"MAIL FROM:<s@remote.test>\r\n") == \
        b"530 5.7.0 Authentication required\r\n"


# ------------------------------------------------------ SmtpConfig rules

def test_smtpconfig_want_tls(mailroot, start_server):
    set_vars(mailroot, SmtpConfig="WantTLS")
    srv = start_server(mailroot)
    c = Client(srv.ports["smtp"])
    c.ehlo()
    assert c.first(b"MAIL FROM:<s@remote.test>\r\n") == \
        b"530 5.7.0 Must issue a STARTTLS command first\r\n"
    c.starttls()
    c.ehlo()
    assert c.code(b"MAIL FROM:<s@remote.test>\r\n") == 250


def test_smtpconfig_want_tls_eased_by_ipprop(mailroot, start_server):
    set_vars(mailroot, SmtpConfig="WantTLS")
    (mailroot / "smtp.ipprop.tab").write_text(
        '"127.0.0.1/32"\t"EaseTLS=1"\n')
    srv = start_server(mailroot)
    c = Client(srv.ports["smtp"])
    c.ehlo()
    assert c.code(b"MAIL FROM:<s@remote.test>\r\n") == 250


def test_smtpconfig_want_tls_eased_by_perm_s(mailroot, start_server):
    set_vars(mailroot, SmtpConfig="WantTLS", SmtpNoTLSAuths="PLAIN")
    (mailroot / "smtpauth.tab").write_text('"sam"\t"s4m-pw"\t"MRS"\n')
    srv = start_server(mailroot)
    c = Client(srv.ports["smtp"])
    c.ehlo()
    assert c.auth_plain("sam", "s4m-pw").startswith(AUTH_OK)
    assert c.code(b"MAIL FROM:<sam@remote.test>\r\n") == 250
    # Without S (alice: DefaultSmtpPerms "MR") TLS is still wanted.
    c = Client(srv.ports["smtp"])
    c.ehlo()
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    assert c.first(b"MAIL FROM:<alice@example.test>\r\n").startswith(
        b"530 5.7.0 Must issue a STARTTLS")


def test_smtpconfig_mail_auth(mailroot, start_server):
    set_vars(mailroot, SmtpConfig="MailAuth")
    srv = start_server(mailroot)
    c = Client(srv.ports["smtp"])
    c.ehlo()
    assert c.first(b"MAIL FROM:<s@remote.test>\r\n") == \
        b"530 5.7.0 Authentication required\r\n"
    c.starttls()
    c.ehlo()
    assert c.first(b"MAIL FROM:<s@remote.test>\r\n").startswith(b"530 5.7.0")
    assert c.auth_plain(BOB, "hunter2").startswith(AUTH_OK)
    assert c.code(b"MAIL FROM:<bob@example.test>\r\n") == 250


def test_smtpconfig_ip_beats_global(mailroot, start_server):
    set_vars(mailroot, SmtpConfig="WantTLS",
             **{"SmtpConfig-127.0.0.1": "MailAuth"})
    srv = start_server(mailroot)
    c = Client(srv.ports["smtp"])
    c.ehlo()
    assert c.first(b"MAIL FROM:<s@remote.test>\r\n") == \
        b"530 5.7.0 Authentication required\r\n"


def test_smtpconfig_ip_port_beats_ip(mailroot, start_server):
    set_vars(mailroot, **{"SmtpConfig-127.0.0.1": "MailAuth"})
    srv = start_server(mailroot)
    add_var_live(srv, "SmtpConfig-127.0.0.1,%d" % srv.ports["smtp"],
                 "WantTLS")
    c = Client(srv.ports["smtp"])
    c.ehlo()
    assert c.first(b"MAIL FROM:<s@remote.test>\r\n").startswith(
        b"530 5.7.0 Must issue a STARTTLS")
    c.starttls()
    c.ehlo()
    # MailAuth of SmtpConfig-127.0.0.1 does not apply to this port.
    assert c.code(b"MAIL FROM:<s@remote.test>\r\n") == 250


# ------------------------------------------------------------ mechanisms

def test_auth_plain_initial_and_continued(server):
    c = tls_client(server.ports["smtp"])
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    c = tls_client(server.ports["smtp"])
    assert c.first(b"AUTH PLAIN\r\n") == b"334 \r\n"
    assert c.first(plain_resp(ALICE, "secret") + b"\r\n").startswith(AUTH_OK)
    # Same authzid as the user is fine.
    c = tls_client(server.ports["smtp"])
    assert c.auth_plain(ALICE, "secret", authz=ALICE).startswith(AUTH_OK)
    # Lower-case mechanism names are accepted.
    c = tls_client(server.ports["smtp"])
    assert c.first(b"auth plain " + plain_resp(BOB, "hunter2") +
                   b"\r\n").startswith(AUTH_OK)


def test_auth_login(server):
    c = tls_client(server.ports["smtp"])
    assert c.first(b"AUTH LOGIN\r\n") == b"334 VXNlcm5hbWU6\r\n"
    assert c.first(b64(ALICE) + b"\r\n") == b"334 UGFzc3dvcmQ6\r\n"
    assert c.first(b64("secret") + b"\r\n").startswith(AUTH_OK)
    # User name inline.
    c = tls_client(server.ports["smtp"])
    assert c.first(b"AUTH LOGIN " + b64(BOB) + b"\r\n") == \
        b"334 UGFzc3dvcmQ6\r\n"
    assert c.first(b64("hunter2") + b"\r\n").startswith(AUTH_OK)


def test_auth_cram_md5(server):
    c = tls_client(server.ports["smtp"])
    assert c.ts and c.ts.startswith("<") and c.ts.endswith(">")
    r = c.first(b"AUTH CRAM-MD5\r\n")
    assert r.startswith(b"334 ")
    challenge = base64.b64decode(r[4:].strip()).decode()
    # The challenge is the greeting's timestamp (XMail).
    assert challenge == c.ts
    assert c.first(cram_resp(ALICE, "secret", challenge) + b"\r\n") \
        .startswith(AUTH_OK)
    # Over SMTPS, the greeting comes after the handshake.
    c = Client(server.ports["smtps"], tls=True)
    c.ehlo()
    r = c.first(b"AUTH CRAM-MD5\r\n")
    assert base64.b64decode(r[4:].strip()).decode() == c.ts
    assert c.first(cram_resp(BOB, "hunter2", c.ts) + b"\r\n") \
        .startswith(AUTH_OK)


def test_auth_user_name_forms(mailroot, start_server):
    set_vars(mailroot, SMTP_AuthFailDelay="0")
    srv = start_server(mailroot)
    for user in ("alice@example.test", "alice:example.test",
                 "alice%example.test", "ALICE@EXAMPLE.TEST"):
        for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
            c = tls_client(srv.ports["smtp"])
            if mech == "PLAIN":
                r = c.auth_plain(user, "secret")
            elif mech == "LOGIN":
                c.first(b"AUTH LOGIN " + b64(user) + b"\r\n")
                r = c.first(b64("secret") + b"\r\n")
            else:
                c.first(b"AUTH CRAM-MD5\r\n")
                r = c.first(cram_resp(user, "secret", c.ts) + b"\r\n")
            assert r.startswith(AUTH_OK), (user, mech, r)
            c.close()
    start = len(srv.log())
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    srv.wait_log("authenticated as alice@example.test", start=start)
    # A bare name has no default domain.
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain("alice", "secret").startswith(AUTH_BAD)


def test_auth_wrong_credentials(mailroot, start_server):
    set_vars(mailroot, SMTP_AuthFailDelay="0")
    srv = start_server(mailroot)
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain(ALICE, "hunter2").startswith(AUTH_BAD)
    # The session goes on and another attempt may succeed.
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain("nobody@example.test", "secret").startswith(AUTH_BAD)
    assert c.auth_plain("alice@other.test", "secret").startswith(AUTH_BAD)
    c.first(b"AUTH LOGIN " + b64(BOB) + b"\r\n")
    assert c.first(b64("secret") + b"\r\n").startswith(AUTH_BAD)
    c.first(b"AUTH CRAM-MD5\r\n")
    assert c.first(cram_resp(BOB, "secret", c.ts) + b"\r\n") \
        .startswith(AUTH_BAD)
    # A CRAM-MD5 digest computed over another challenge fails.
    c.first(b"AUTH CRAM-MD5\r\n")
    assert c.first(cram_resp(BOB, "hunter2", "<1.2@example.test>") +
                   b"\r\n").startswith(AUTH_BAD)
    assert c.code(b"NOOP\r\n") == 250


def test_auth_fail_delay_doubles(mailroot, start_server):
    set_vars(mailroot, SMTP_AuthFailDelay="200")
    srv = start_server(mailroot)
    c = tls_client(srv.ports["smtp"])
    times = []
    for _ in range(2):
        t = time.monotonic()
        assert c.auth_plain(ALICE, "wrong").startswith(AUTH_BAD)
        times.append(time.monotonic() - t)
    # Counted per client address, not per connection.
    c = tls_client(srv.ports["smtp"])
    t = time.monotonic()
    assert c.auth_plain(ALICE, "wrong").startswith(AUTH_BAD)
    times.append(time.monotonic() - t)
    assert times[0] >= 0.18, times
    assert times[1] >= 0.38, times
    assert times[2] >= 0.78, times
    # Success is not delayed by past failures (no upper bound asserted,
    # but it must work).
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    srv.wait_log("reply delayed 800 ms")


def test_auth_failures_count_as_errors(mailroot, start_server):
    set_vars(mailroot, SMTP_AuthFailDelay="0", SMTP_MaxErrors="3")
    srv = start_server(mailroot)
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain(ALICE, "x1").startswith(AUTH_BAD)
    assert c.auth_plain(ALICE, "x2").startswith(AUTH_BAD)
    assert c.auth_plain(ALICE, "x3").startswith(AUTH_BAD)
    r = c.reply()
    assert r and r[0].startswith(b"421 4.7.0"), r
    assert c.until_closed() == b""


def test_password_never_logged(mailroot, start_server):
    set_vars(mailroot, SMTP_AuthFailDelay="0", SmtpNoTLSAuths="PLAIN LOGIN")
    srv = start_server(mailroot, "-Md", "-Sl")
    wrong = "Wr0ng-Passw0rd-xyzzy"
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain(ALICE, wrong).startswith(AUTH_BAD)
    c.first(b"AUTH LOGIN " + b64(ALICE) + b"\r\n")
    assert c.first(b64(wrong) + b"\r\n").startswith(AUTH_BAD)
    assert c.auth_plain(BOB, "hunter2").startswith(AUTH_OK)
    assert send_message(c, BOB, ALICE).startswith(b"250")
    # And in clear text.
    c = Client(srv.ports["smtp"])
    c.ehlo()
    c.first(b"AUTH LOGIN\r\n")
    c.first(b64(ALICE) + b"\r\n")
    assert c.first(b64(wrong) + b"\r\n").startswith(AUTH_BAD)
    c.close()
    wait_messages(mailroot, "alice", 1)
    srv.wait_log("AUTH failure 3 from this address")
    logs = srv.log()
    for f in glob.glob(str(mailroot / "logs" / "*")):
        logs += open(f, errors="replace").read()
    for secret in (wrong, "hunter2", b64(wrong).decode(),
                   b64("hunter2").decode(),
                   plain_resp(BOB, "hunter2").decode(),
                   plain_resp(ALICE, wrong).decode()):
        assert secret not in logs, secret
    msg = wait_messages(mailroot, "alice", 1)[0]
    assert b"hunter2" not in msg


# ------------------------------------------------------------ bad inputs

def test_auth_bad_sequence(server):
    c = Client(server.ports["smtp"])
    c.starttls()
    # Before EHLO.
    assert c.first(b"AUTH PLAIN " + plain_resp(ALICE, "secret") +
                   b"\r\n").startswith(b"503 5.5.1")
    # After HELO: no ESMTP.
    assert c.code(b"HELO client.test\r\n") == 250
    assert c.first(b"AUTH PLAIN " + plain_resp(ALICE, "secret") +
                   b"\r\n").startswith(b"503 5.5.1")
    c.ehlo()
    # During a transaction.
    assert c.code(b"MAIL FROM:<s@remote.test>\r\n") == 250
    assert c.first(b"AUTH PLAIN " + plain_resp(ALICE, "secret") +
                   b"\r\n").startswith(b"503 5.5.1")
    assert c.code(b"RSET\r\n") == 250
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    assert c.first(b"AUTH PLAIN " + plain_resp(ALICE, "secret") +
                   b"\r\n") == b"503 5.5.1 Already authenticated\r\n"
    assert c.first(b"AUTH LOGIN\r\n").startswith(b"503 5.5.1")
    # A new EHLO does not forget the identity either.
    c.ehlo()
    assert c.first(b"AUTH LOGIN\r\n").startswith(b"503 5.5.1")
    assert c.first(b"AUTH\r\n").startswith(b"5")


@pytest.mark.parametrize("resp", [
    b"AGFsaWN",             # truncated
    b"@@@@",                # not base64
    b"AGFsaWNl",            # "\0alice": no password part
    b"AGFsaWNlAHNlY3JldA=", # wrong padding
    b"YWxpY2U=",            # "alice": no NUL at all
    b"=",                   # empty
])
def test_auth_plain_bad_base64(mailroot, start_server, resp):
    set_vars(mailroot, SMTP_AuthFailDelay="0")
    srv = start_server(mailroot)
    c = tls_client(srv.ports["smtp"])
    assert c.first(b"AUTH PLAIN " + resp + b"\r\n").startswith(b"501 5.5.2")
    assert c.first(b"AUTH PLAIN\r\n") == b"334 \r\n"
    assert c.first(resp + b"\r\n").startswith(b"501 5.5.2")
    # Back to normal commands.
    assert c.code(b"NOOP\r\n") == 250
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)


def test_auth_other_bad_inputs(mailroot, start_server):
    set_vars(mailroot, SMTP_AuthFailDelay="0")
    srv = start_server(mailroot)
    c = tls_client(srv.ports["smtp"])
    assert c.first(b"AUTH FOO\r\n").startswith(b"504 5.5.4")
    assert c.first(b"AUTH DIGEST-MD5\r\n").startswith(b"504 5.5.4")
    assert c.first(b"AUTH LOGIN @@@@\r\n").startswith(b"501 5.5.2")
    c.first(b"AUTH LOGIN\r\n")
    assert c.first(b"@@@@\r\n").startswith(b"501 5.5.2")
    c.first(b"AUTH LOGIN\r\n")
    c.first(b64(ALICE) + b"\r\n")
    assert c.first(b"AGFsaWN\r\n").startswith(b"501 5.5.2")
    # NUL inside a LOGIN name.
    assert c.first(b"AUTH LOGIN " + b64("ali\0ce") + b"\r\n") \
        .startswith(b"501 5.5.2")
    c.first(b"AUTH CRAM-MD5\r\n")
    assert c.first(b"@@@@\r\n").startswith(b"501 5.5.2")
    c.first(b"AUTH CRAM-MD5\r\n")
    assert c.first(b64("nodigest") + b"\r\n").startswith(b"501 5.5.2")
    # CRAM-MD5 takes no initial response.
    assert c.first(b"AUTH CRAM-MD5 " + cram_resp(ALICE, "secret", c.ts) +
                   b"\r\n").startswith(b"501")
    # "*" cancels at every step.
    for start in (b"AUTH PLAIN\r\n", b"AUTH LOGIN\r\n", b"AUTH CRAM-MD5\r\n"):
        assert c.first(start).startswith(b"334 ")
        assert c.first(b"*\r\n").startswith(b"501 5.0.0")
    c.first(b"AUTH LOGIN\r\n")
    c.first(b64(ALICE) + b"\r\n")
    assert c.first(b"*\r\n").startswith(b"501 5.0.0")
    # Authorization identity other than the user.
    assert c.auth_plain(ALICE, "secret", authz=BOB).startswith(b"535")
    # Still not authenticated, still usable.
    assert c.first(b"AUTH LOGIN\r\n") == b"334 VXNlcm5hbWU6\r\n"
    assert c.first(b64(ALICE) + b"\r\n") == b"334 UGFzc3dvcmQ6\r\n"
    assert c.first(b64("secret") + b"\r\n").startswith(AUTH_OK)


def test_auth_in_clear_text_when_allowed(mailroot, start_server):
    set_vars(mailroot, SmtpNoTLSAuths="CRAM-MD5,LOGIN")
    srv = start_server(mailroot)
    c = Client(srv.ports["smtp"])
    ehlo = c.ehlo()
    assert b"250-AUTH LOGIN CRAM-MD5\r\n" in ehlo
    assert b"250-STARTTLS" in ehlo
    assert c.first(b"AUTH PLAIN " + plain_resp(ALICE, "secret") +
                   b"\r\n").startswith(b"538 5.7.11")
    c.first(b"AUTH CRAM-MD5\r\n")
    assert c.first(cram_resp(ALICE, "secret", c.ts) + b"\r\n") \
        .startswith(AUTH_OK)
    # Over TLS every mechanism is offered.
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)


# ----------------------------------------------------------------- relay

def test_relay_needs_auth(mailroot, start_server):
    no_relay(mailroot)
    srv = start_server(mailroot)
    c = tls_client(srv.ports["smtp"])
    assert c.code(b"MAIL FROM:<alice@example.test>\r\n") == 250
    assert c.first(b"RCPT TO:<%s>\r\n" % FOREIGN.encode()) == \
        b"550 5.7.1 Relay denied\r\n"
    assert c.code(b"RSET\r\n") == 250
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    assert send_message(c, ALICE, FOREIGN).startswith(b"250 2.0.0 OK <S")
    srv.wait_log("queue: deferred")     # no DNS: it rests in rsnd/
    [f] = spooled_for(mailroot, FOREIGN)
    data = open(f, "rb").read()
    head = data.split(b"<<MAIL-DATA>>\r\n", 1)[1]
    assert head.startswith(b"X-AuthUser: alice@example.test\r\nReceived: ")


def test_x_authuser_disabled(mailroot, start_server):
    set_vars(mailroot, DisableEmitAuthUser="1")
    srv = start_server(mailroot)
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    assert send_message(c, ALICE, BOB).startswith(b"250")
    [msg] = wait_messages(mailroot, "bob", 1)
    assert b"X-AuthUser" not in msg
    assert b"\nReceived: from client.test" in msg
    assert b"(using TLSv1." in msg


def test_smtpauth_tab_permissions(mailroot, start_server):
    no_relay(mailroot)
    (mailroot / "smtpauth.tab").write_text(
        '"mailer"\t"m-pass"\t"M"\n'
        '"relayer"\t"r-pass"\t"MR"\n'
        '"nomail"\t"n-pass"\t"R"\n'
        '"short"\t"s-pass"\n')
    srv = start_server(mailroot)
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain("mailer", "m-pass").startswith(AUTH_OK)
    assert c.code(b"MAIL FROM:<m@example.test>\r\n") == 250
    assert c.first(b"RCPT TO:<%s>\r\n" % FOREIGN.encode()).startswith(
        b"550 5.7.1")
    # Local delivery is fine with M.
    assert c.code(b"RCPT TO:<bob@example.test>\r\n") == 250
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain("relayer", "r-pass").startswith(AUTH_OK)
    assert send_message(c, "r@example.test", FOREIGN).startswith(b"250")
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain("nomail", "n-pass").startswith(AUTH_OK)
    assert c.first(b"MAIL FROM:<n@example.test>\r\n").startswith(b"550 5.7.1")
    c = tls_client(srv.ports["smtp"])
    c.first(b"AUTH CRAM-MD5\r\n")
    assert c.first(cram_resp("relayer", "r-pass", c.ts) + b"\r\n") \
        .startswith(AUTH_OK)
    # Exact user names and passwords only; short rows are ignored.
    set_vars(mailroot, SMTP_AuthFailDelay="0")
    srv.wait_log("configuration reloaded (server.tab)")
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain("Relayer", "r-pass").startswith(AUTH_BAD)
    assert c.auth_plain("relayer", "R-pass").startswith(AUTH_BAD)
    assert c.auth_plain("short", "s-pass").startswith(AUTH_BAD)


def test_smtp_perms_from_user_tab_and_default(mailroot, start_server):
    no_relay(mailroot)
    set_vars(mailroot, DefaultSmtpPerms="M")
    # init gives every account SmtpPerms "MR": alice loses hers and falls
    # back to DefaultSmtpPerms, bob keeps his.
    path = mailroot / "domains" / DOMAIN / "alice" / "user.tab"
    lines = [l for l in path.read_text().splitlines()
             if not l.startswith('"SmtpPerms"')]
    path.write_text("\n".join(lines) + "\n")
    path = mailroot / "domains" / DOMAIN / "bob" / "user.tab"
    assert '"SmtpPerms"\t"MR"' in path.read_text()
    srv = start_server(mailroot)
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    assert c.code(b"MAIL FROM:<alice@example.test>\r\n") == 250
    assert c.first(b"RCPT TO:<%s>\r\n" % FOREIGN.encode()).startswith(
        b"550 5.7.1")
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain(BOB, "hunter2").startswith(AUTH_OK)
    assert send_message(c, BOB, FOREIGN).startswith(b"250")


def write_ext_prog(tmp_path):
    prog = tmp_path / "extauth.sh"
    prog.write_text(
        "#!/bin/sh\n"
        "# $1 user, $2 password, $3 result file\n"
        'echo "$1 $3" >> "%s"\n'
        'case "$1:$2" in\n'
        '"ext@x.test:ext-pw") echo "Perms=MR" > "$3"; exit 0 ;;\n'
        '"extm@x.test:ext-pw") printf "Other=1\\r\\nPerms=M\\r\\n" > "$3";'
        " exit 0 ;;\n"
        '"plain@x.test:ext-pw") exit 0 ;;\n'
        "esac\n"
        "exit 1\n" % (tmp_path / "calls.txt"))
    prog.chmod(0o755)
    return prog


def test_smtpextauth(mailroot, start_server, tmp_path):
    no_relay(mailroot)
    set_vars(mailroot, SMTP_AuthFailDelay="0", DefaultSmtpPerms="M")
    prog = write_ext_prog(tmp_path)
    (mailroot / "smtpextauth.tab").write_text(
        '"PLAIN"\t"%s"\t"@@USER"\t"@@PASS"\t"@@RFILE"\n' % prog)
    srv = start_server(mailroot)
    c = Client(srv.ports["smtp"])
    assert b"AUTH" not in c.ehlo()
    c.starttls()
    ehlo = c.ehlo()
    assert b"250-AUTH PLAIN\r\n" in ehlo
    # Built-in mechanisms are gone, and so are the local accounts.
    assert c.first(b"AUTH LOGIN\r\n").startswith(b"504 5.5.4")
    assert c.first(b"AUTH CRAM-MD5\r\n").startswith(b"504 5.5.4")
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_BAD)
    assert c.auth_plain("ext@x.test", "bad").startswith(AUTH_BAD)
    assert c.auth_plain("ext@x.test", "ext-pw").startswith(AUTH_OK)
    # Perms=MR from the result file: relaying allowed.
    assert send_message(c, "ext@x.test", FOREIGN).startswith(b"250")
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain("extm@x.test", "ext-pw").startswith(AUTH_OK)
    assert c.code(b"MAIL FROM:<extm@x.test>\r\n") == 250
    assert c.first(b"RCPT TO:<%s>\r\n" % FOREIGN.encode()).startswith(
        b"550 5.7.1")
    # No Perms= line: DefaultSmtpPerms (M here).
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain("plain@x.test", "ext-pw").startswith(AUTH_OK)
    assert c.code(b"MAIL FROM:<p@x.test>\r\n") == 250
    assert c.first(b"RCPT TO:<%s>\r\n" % FOREIGN.encode()).startswith(
        b"550 5.7.1")
    calls = [l.split(" ", 1) for l in
             (tmp_path / "calls.txt").read_text().splitlines()]
    users = [u for u, _ in calls]
    assert "ext@x.test" in users and "extm@x.test" in users
    # @@RFILE was a fresh absolute path each time, removed afterwards.
    rfiles = [r for _, r in calls]
    assert len(set(rfiles)) == len(rfiles)
    for r in rfiles:
        assert r.startswith("/") and not os.path.exists(r), r


def test_smtpextauth_in_clear_text(mailroot, start_server, tmp_path):
    set_vars(mailroot, SmtpNoTLSAuths="PLAIN")
    prog = write_ext_prog(tmp_path)
    (mailroot / "smtpextauth.tab").write_text(
        '"PLAIN"\t"%s"\t"@@USER"\t"@@PASS"\t"@@RFILE"\n' % prog)
    srv = start_server(mailroot)
    c = Client(srv.ports["smtp"])
    assert b"250-AUTH PLAIN\r\n" in c.ehlo()
    assert c.auth_plain("ext@x.test", "ext-pw").startswith(AUTH_OK)


def test_smtpextauth_program_missing_is_tempfail(mailroot, start_server,
                                                 tmp_path):
    (mailroot / "smtpextauth.tab").write_text(
        '"PLAIN"\t"%s"\t"@@USER"\t"@@PASS"\n' % (tmp_path / "missing"))
    srv = start_server(mailroot)
    c = tls_client(srv.ports["smtp"])
    assert c.auth_plain("ext@x.test", "ext-pw").startswith(b"454 4.7.0")
    assert c.code(b"NOOP\r\n") == 250


# ----------------------------------------------------------- real clients

def swaks(*args, timeout=60):
    need("swaks")
    return subprocess.run(["swaks", "--server", "127.0.0.1",
                           "--helo", "swaks.test"] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def test_swaks_starttls_auth(mailroot, start_server):
    no_relay(mailroot)
    srv = start_server(mailroot)
    for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
        p = swaks("--port", str(srv.ports["smtp"]), "--tls", "--auth", mech,
                  "--auth-user", ALICE, "--auth-password", "secret",
                  "--from", ALICE, "--to", BOB,
                  "--header", "Subject: swaks " + mech)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "235 2.7.0" in p.stdout
        assert "STARTTLS" in p.stdout
    msgs = wait_messages(mailroot, "bob", 3)
    assert len(msgs) == 3
    for m in msgs:
        assert b"X-AuthUser: alice@example.test\n" in m
        assert b"(using TLSv1." in m
    # Relaying through the submission port.
    p = swaks("--port", str(srv.ports["submission"]), "--tls", "--auth",
              "PLAIN", "--auth-user", BOB, "--auth-password", "hunter2",
              "--from", BOB, "--to", FOREIGN)
    assert p.returncode == 0, p.stdout + p.stderr
    assert spooled_for(mailroot, FOREIGN)


def test_swaks_smtps_and_bad_password(mailroot, start_server):
    set_vars(mailroot, SMTP_AuthFailDelay="0")
    srv = start_server(mailroot)
    p = swaks("--port", str(srv.ports["smtps"]), "--tlsc", "--auth",
              "CRAM-MD5", "--auth-user", BOB, "--auth-password", "hunter2",
              "--from", BOB, "--to", ALICE)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "235 2.7.0" in p.stdout
    p = swaks("--port", str(srv.ports["smtps"]), "--tlsc", "--auth",
              "PLAIN", "--auth-user", BOB, "--auth-password", "wrong",
              "--from", BOB, "--to", ALICE)
    assert p.returncode != 0
    assert "535 5.7.8" in p.stdout
    assert len(wait_messages(mailroot, "alice", 1)) == 1


def test_msmtp_submission(mailroot, start_server, tmp_path):
    need("msmtp")
    no_relay(mailroot)
    set_vars(mailroot, SMTP_AuthFailDelay="0")
    srv = start_server(mailroot)
    rc = tmp_path / "msmtprc"
    rc.write_text(
        "defaults\n"
        "tls on\ntls_starttls on\ntls_certcheck off\n"
        "auth on\n"
        "account default\n"
        "host 127.0.0.1\nport %d\n"
        "user %s\npassword secret\nfrom %s\n"
        % (srv.ports["submission"], ALICE, ALICE))
    rc.chmod(0o600)
    for rcpt in (BOB, FOREIGN):
        p = subprocess.run(
            ["msmtp", "-C", str(rc), rcpt], capture_output=True, text=True,
            timeout=60,
            input="From: %s\nTo: %s\nSubject: msmtp\n\nhello\n"
            % (ALICE, rcpt))
        assert p.returncode == 0, p.stdout + p.stderr
    [msg] = wait_messages(mailroot, "bob", 1)
    assert b"X-AuthUser: alice@example.test\n" in msg
    assert b"(using TLSv1." in msg
    assert spooled_for(mailroot, FOREIGN)
    # A wrong password fails.
    rc.write_text(rc.read_text().replace("password secret",
                                         "password wrong"))
    p = subprocess.run(["msmtp", "-C", str(rc), BOB], capture_output=True,
                       text=True, timeout=60, input="Subject: x\n\nx\n")
    assert p.returncode != 0


def test_openssl_s_client_starttls(server):
    need("openssl")
    p = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect",
         "127.0.0.1:%d" % server.ports["smtp"], "-quiet"],
        input=b"EHLO sclient.test\r\nNOOP\r\nQUIT\r\n", capture_output=True,
        timeout=60)
    out = p.stdout
    assert b"250-example.test\r\n" in out, out + p.stderr
    assert ALL_MECHS in out
    assert b"STARTTLS" not in out
    assert b"250 2.0.0 OK\r\n" in out
    assert b"221 2.0.0" in out


def test_openssl_s_client_smtps(server):
    need("openssl")
    p = subprocess.run(
        ["openssl", "s_client", "-connect",
         "127.0.0.1:%d" % server.ports["smtps"], "-quiet"],
        input=b"EHLO sclient.test\r\nQUIT\r\n", capture_output=True,
        timeout=60)
    assert p.stdout.startswith(b"220 example.test <"), p.stdout + p.stderr
    assert ALL_MECHS in p.stdout
    assert b"221 2.0.0" in p.stdout


# -------------------------------------------------------- TLS robustness

def test_garbage_after_starttls(server):
    start = len(server.log())
    c = Client(server.ports["smtp"])
    c.ehlo()
    assert c.first(b"STARTTLS\r\n").startswith(b"220 2.0.0")
    c.send(b"this is not a TLS ClientHello\r\nMAIL FROM:<x@y.test>\r\n"
           + bytes(range(256)))
    data = c.until_closed()
    # Maybe a TLS alert record, never an SMTP reply.
    assert not re.match(rb"^\d{3}[ -]", data), data
    server.wait_log("TLS handshake failed", start=start)
    c.close()
    # The server keeps serving.
    c = tls_client(server.ports["smtp"])
    assert c.code(b"NOOP\r\n") == 250
    c = Client(server.ports["smtps"], tls=True)
    assert c.greeting[0].startswith(b"220 ")


def test_random_bytes_after_starttls(server):
    start = len(server.log())
    for _ in range(3):
        c = Client(server.ports["smtp"])
        assert c.first(b"STARTTLS\r\n").startswith(b"220 2.0.0")
        # 0x00 first: never a valid TLS record type.
        c.send(b"\x00" + os.urandom(300))
        c.until_closed()
        c.close()
    server.wait_log("TLS handshake failed", start=start)
    c = Client(server.ports["smtp"])
    assert c.code(b"NOOP\r\n") == 250


def test_smtps_client_leaves_mid_handshake(server):
    port = server.ports["smtps"]
    # Connect and leave at once.
    socket.create_connection(("127.0.0.1", port), timeout=10).close()
    # A partial ClientHello record, then leave.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 20)
    s.close()
    # Garbage, then leave.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"EHLO plain.text\r\n")
    s.close()
    # A client that stalls mid-handshake does not block anyone.
    stalled = socket.create_connection(("127.0.0.1", port), timeout=10)
    stalled.sendall(b"\x16\x03\x01")
    c = Client(port, tls=True)
    assert c.greeting[0].startswith(b"220 ")
    c.ehlo()
    assert c.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    assert c.code(b"NOOP\r\n") == 250
    stalled.close()
    assert server.proc.poll() is None
    c = Client(server.ports["smtp"])
    assert c.code(b"NOOP\r\n") == 250


def test_tls_versions(server):
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = client_ctx()
        ctx.minimum_version = ctx.maximum_version = version
        c = Client(server.ports["smtp"])
        c.starttls(ctx)
        assert c.s.version() == version.name.replace("_", "."), \
            c.s.version()
        assert c.code(b"EHLO client.test\r\n") == 250
        c = Client(server.ports["smtps"], tls=True, ctx=ctx)
        assert c.s.version() == version.name.replace("_", ".")
        assert c.greeting[0].startswith(b"220 ")


def test_tls_1_1_refused(server):
    try:
        ctx = client_ctx()
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError) as e:
        pytest.skip("local OpenSSL cannot build a TLS 1.1 context: %s" % e)
    start = len(server.log())
    s = socket.create_connection(("127.0.0.1", server.ports["smtps"]),
                                 timeout=10)
    try:
        with pytest.raises((ssl.SSLError, ConnectionError)) as e:
            ctx.wrap_socket(s)
    finally:
        s.close()
    if "NO_PROTOCOLS_AVAILABLE" in str(e.value) or \
            "NO_CIPHERS_AVAILABLE" in str(e.value):
        pytest.skip("local OpenSSL refuses TLS 1.1 itself: %s" % e.value)
    # The server refused it, not our side.
    server.wait_log("TLS handshake failed", start=start)
    # Same through STARTTLS.
    c = Client(server.ports["smtp"])
    assert c.first(b"STARTTLS\r\n").startswith(b"220 2.0.0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        c.tls_wrap(ctx)
    c.close()
    c = tls_client(server.ports["smtp"])
    assert c.code(b"NOOP\r\n") == 250


# ---------------------------------------------------- certificate reload

def peer_cert_cn(c):
    return peer_cn(c.s.getpeercert(binary_form=True))


def test_certificate_reload_on_sighup(server, mailroot, tmp_path):
    old = tls_client(server.ports["smtp"])
    old_cn = peer_cert_cn(old)
    assert old_cn != "reloaded.test"
    old_smtps = Client(server.ports["smtps"], tls=True)
    key, cert = make_cert(tmp_path, "reloaded.test")
    shutil.copyfile(cert, mailroot / "server.cert")
    shutil.copyfile(key, mailroot / "server.key")
    marker = "TLS: certificate %s loaded" % (mailroot / "server.cert")
    assert server.log().count(marker) == 1
    start = len(server.log())
    server.signal(signal.SIGHUP)
    server.wait_log(marker, start=start)
    # Sessions opened before keep working.
    assert old.code(b"NOOP\r\n") == 250
    assert old.auth_plain(ALICE, "secret").startswith(AUTH_OK)
    assert old_smtps.code(b"EHLO client.test\r\n") == 250
    # New ones get the new certificate, on both ports.
    c = tls_client(server.ports["smtp"])
    assert peer_cert_cn(c) == "reloaded.test"
    assert c.code(b"NOOP\r\n") == 250
    c = Client(server.ports["smtps"], tls=True)
    assert peer_cert_cn(c) == "reloaded.test"
    assert peer_cert_cn(old) == old_cn


def test_bad_certificate_keeps_previous(server, mailroot, tmp_path):
    c = tls_client(server.ports["smtp"])
    old_cn = peer_cert_cn(c)
    key, cert = make_cert(tmp_path, "reloaded.test")
    # The certificate first, the key not yet: they do not match.
    shutil.copyfile(cert, mailroot / "server.cert")
    start = len(server.log())
    server.signal(signal.SIGHUP)
    server.wait_log("certificate not loaded; the previous one stays",
                    start=start)
    c = tls_client(server.ports["smtp"])
    assert peer_cert_cn(c) == old_cn
    assert c.code(b"NOOP\r\n") == 250
    # Now the key: the next SIGHUP loads both.
    shutil.copyfile(key, mailroot / "server.key")
    start = len(server.log())
    server.signal(signal.SIGHUP)
    server.wait_log("TLS: certificate %s loaded" % (mailroot / "server.cert"),
                    start=start)
    c = tls_client(server.ports["smtp"])
    assert peer_cert_cn(c) == "reloaded.test"
