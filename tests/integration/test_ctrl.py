"""CTRL and CTRLS, the XMail admin protocol: byte-level sessions against
the real server (greeting, logins, "#!TLS", limits, hostile lines), an
upload and a listing, and the end-to-end path: an account made over CTRL
receives mail over SMTP and serves it over POP3 at once.

TLS clients never verify the server's self-signed certificate.
"""
import glob
import hashlib
import poplib
import re
import signal
import smtplib
import socket
import ssl
import threading
import time

import pytest

from conftest import (DOMAIN, client_ctx, init_mailroot, run, set_vars,
                      wait_messages)

ADMIN, ADMIN_PW = "admin", "Secr3t"
OK = b"+00000 OK"
BAD_LOGIN = b"-00105 Bad controller login"
BAD_SYNTAX = b"-00103 Bad CTRL command syntax"
GREETING = re.compile(
    rb"^\+00000 (<(\d+)\.(\d+)@127\.0\.0\.1>) postroom CTRL Server; "
    rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} "
    rb"\d\d:\d\d:\d\d [+-]\d{4}$")


# ---------------------------------------------------------------- helpers

def tabline(*fields):
    """One command line: quoted fields separated by TAB."""
    return b"\t".join(b'"' + (f if isinstance(f, bytes) else f.encode())
                      + b'"' for f in fields)


def md5_login(stamp, password):
    return "#" + hashlib.md5(stamp + password.encode()).hexdigest()


class Ctrl:
    """A byte-level CTRL client that can switch to TLS (own recv buffer)."""

    def __init__(self, port, tls=False):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.tls = tls
        if tls:
            self.s = client_ctx().wrap_socket(self.s)
        self.buf = b""
        self.greeting = self.line()
        m = GREETING.match(self.greeting)
        self.stamp = m.group(1) if m else None

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        """The next line without CRLF; None once the server closed."""
        while b"\r\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                rest, self.buf = self.buf, b""
                return rest or None
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def cmd(self, *fields):
        self.send(tabline(*fields) + b"\r\n")
        return self.line()

    def raw(self, data):
        self.send(data + b"\r\n")
        return self.line()

    def listing(self):
        """The lines of a 00100 listing, un-stuffed."""
        lines = []
        while True:
            line = self.line()
            if line == b".":
                return lines
            assert line is not None, "connection closed inside a listing"
            lines.append(line[1:] if line.startswith(b".") else line)

    def upload(self, lines):
        """Send dot-stuffed data lines and the final "."; the reply."""
        data = b"".join((b"." + x if x.startswith(b".") else x) + b"\r\n"
                        for x in lines)
        self.send(data + b".\r\n")
        return self.line()

    def starttls(self):
        assert not self.buf
        self.s = client_ctx().wrap_socket(self.s)
        self.tls = True

    def login(self, user=ADMIN, password=ADMIN_PW, clear=False):
        """The MD5 login in clear text (the server refuses a clear-text
        password before TLS by default), the password itself over TLS
        or when `clear`."""
        if clear or self.tls or self.stamp is None:
            return self.cmd(user, password)
        return self.cmd(user, md5_login(self.stamp, password))

    def closed(self, timeout=5):
        self.s.settimeout(timeout)
        try:
            return self.buf == b"" and self.s.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        self.s.close()


def admin_root(path, users=None, **server_vars):
    kw = {} if users is None else {"users": users}
    root = init_mailroot(path, extra=["--admin", "%s:%s" % (ADMIN, ADMIN_PW)],
                         **kw)
    set_vars(root, CtrlLoginDelay=0, **server_vars)
    return root


@pytest.fixture
def root(tmp_path):
    """A MailRoot with the CTRL account admin and no login delay."""
    return admin_root(tmp_path / "MailRoot")


@pytest.fixture
def srv(root, start_server):
    return start_server(root)


def logged_in(server, tls=False, port="ctrl"):
    c = Ctrl(server.ports[port], tls)
    assert c.login() == OK
    return c


def ctrl_logs(root):
    text = ""
    for name in sorted(glob.glob(str(root / "logs" / "ctrl-*"))):
        with open(name, errors="replace") as f:
            text += f.read()
    return text


# ---------------------------------------------------------------- greeting

def test_greeting_shape_and_unique_timestamps(srv):
    before = int(time.time())
    clients = [Ctrl(srv.ports["ctrl"]) for _ in range(6)]
    after = int(time.time())
    stamps = set()
    randoms = set()
    for c in clients:
        m = GREETING.match(c.greeting)
        assert m, c.greeting
        assert before - 1 <= int(m.group(2)) <= after + 1
        stamps.add(m.group(1))
        randoms.add(m.group(3))
        c.close()
    # Unpredictable: no two sessions share the number.
    assert len(stamps) == len(randoms) == len(clients)


def test_ipmap_deny(root, start_server):
    (root / "ctrl.ipmap.tab").write_text(
        '"127.0.0.1"\t"255.255.255.255"\t"DENY"\t"10"\n')
    srv = start_server(root)
    c = Ctrl(srv.ports["ctrl"])
    assert c.greeting == b"-00130 Server does not like Your IP"
    assert c.closed()
    assert "refused by ctrl.ipmap.tab" in srv.log()


def test_session_limit(root, start_server):
    srv = start_server(root, "-CX", "1")
    first = Ctrl(srv.ports["ctrl"])
    assert GREETING.match(first.greeting)
    second = Ctrl(srv.ports["ctrl"])
    assert second.greeting == b"-00129 Server too busy, retry later"
    assert second.closed()
    assert first.login() == OK
    assert first.cmd("quit") == OK
    assert first.closed()


# ---------------------------------------------------------------- login

def test_clear_password_refused_before_tls(srv):
    c = Ctrl(srv.ports["ctrl"])
    assert c.login(clear=True) == BAD_LOGIN
    assert c.closed()
    srv.wait_log("clear-text password before TLS")


def test_clear_login_noop_quit(root, start_server):
    set_vars(root, CtrlAllowPlainAuth=1)
    srv = start_server(root)
    c = Ctrl(srv.ports["ctrl"])
    assert c.login(clear=True) == OK
    assert c.cmd("noop") == OK
    assert c.cmd("NoOp") == OK
    assert c.raw(b"noop") == OK
    assert c.cmd("quit") == OK
    assert c.closed()


def test_login_name_is_case_insensitive(srv):
    c = Ctrl(srv.ports["ctrl"])
    assert c.login("ADMIN", ADMIN_PW) == OK         # MD5
    assert c.cmd("noop") == OK


@pytest.mark.parametrize("upper", [False, True])
def test_md5_login(srv, upper):
    c = Ctrl(srv.ports["ctrl"])
    digest = md5_login(c.stamp, ADMIN_PW)
    assert c.login(ADMIN, digest.upper() if upper else digest,
                   clear=True) == OK
    assert c.cmd("noop") == OK


@pytest.mark.parametrize("line", [
    tabline(ADMIN, "wrong"),
    tabline(ADMIN, "secr3t"),
    tabline("nobody", ADMIN_PW),
    tabline(ADMIN),
    tabline(ADMIN, ADMIN_PW, "x"),
    tabline(ADMIN, ""),
    b"",
    b"admin Secr3t",
    b'"admin\t"Secr3t"',
    b"admin\t\xe9",
    b"#" + b"0" * 32,
], ids=["wrong", "case", "unknown", "one-field", "three-fields", "empty-pw",
        "empty-line", "space", "bad-quote", "8bit", "comment"])
def test_login_failures_close(srv, line):
    c = Ctrl(srv.ports["ctrl"])
    assert c.raw(line) == BAD_LOGIN
    assert c.closed()


def test_md5_login_failures(srv):
    c = Ctrl(srv.ports["ctrl"])
    other = b"<1.2@127.0.0.1>"
    assert c.login(ADMIN, md5_login(other, ADMIN_PW),
                   clear=True) == BAD_LOGIN
    assert c.closed()
    c = Ctrl(srv.ports["ctrl"])
    assert c.login(ADMIN, md5_login(c.stamp, "wrong"),
                   clear=True) == BAD_LOGIN
    assert c.closed()
    c = Ctrl(srv.ports["ctrl"])
    assert c.login(ADMIN, "#") == BAD_LOGIN
    assert c.closed()


def test_hashed_account_clear_login_only(root, start_server):
    """A crypt(3) hash in ctrlaccounts.tab: the MD5 form cannot work."""
    stored = run("passwd", "hash", "--sha512", "H4shedPw").stdout.strip()
    assert stored.startswith("$6$")
    with open(root / "ctrlaccounts.tab", "a") as f:
        f.write('"hashed"\t"%s"\n' % stored)
    set_vars(root, CtrlAllowPlainAuth=1)
    srv = start_server(root)
    c = Ctrl(srv.ports["ctrl"])
    assert c.login("hashed", "H4shedPw", clear=True) == OK
    c = Ctrl(srv.ports["ctrl"])
    assert c.login("hashed", md5_login(c.stamp, "H4shedPw"),
                   clear=True) == BAD_LOGIN
    assert c.closed()
    c = Ctrl(srv.ports["ctrl"])
    assert c.login("hashed", "wrong", clear=True) == BAD_LOGIN


def test_login_delay_honoured(tmp_path, start_server):
    root = admin_root(tmp_path / "MailRoot")
    set_vars(root, CtrlLoginDelay=1)
    srv = start_server(root)
    c = Ctrl(srv.ports["ctrl"])
    t0 = time.monotonic()
    assert c.login(ADMIN, "wrong") == BAD_LOGIN
    assert time.monotonic() - t0 >= 1.0
    assert c.closed()
    # The right password is not delayed.
    c = Ctrl(srv.ports["ctrl"])
    t0 = time.monotonic()
    assert c.login() == OK
    assert time.monotonic() - t0 < 1.0


def test_login_failure_logged(srv):
    c = Ctrl(srv.ports["ctrl"])
    assert c.login("nobody", "x") == BAD_LOGIN
    srv.wait_log("ctrl: peer=127.0.0.1 user=nobody login failed")


# ---------------------------------------------------------------- TLS

def test_tls_upgrade_md5_login(srv):
    c = Ctrl(srv.ports["ctrl"])
    assert c.raw(b"#!TLS") == b"+00000 Ready to start TLS mode"
    c.starttls()
    # The MD5 timestamp stays the greeting's.
    assert c.login(ADMIN, md5_login(c.stamp, ADMIN_PW), clear=True) == OK
    assert c.cmd("noop") == OK
    assert c.cmd("quit") == OK
    assert c.closed()


def test_tls_upgrade_clear_login(srv):
    c = Ctrl(srv.ports["ctrl"])
    assert c.raw(b"#!TLS") == b"+00000 Ready to start TLS mode"
    c.starttls()
    assert c.login() == OK
    assert c.cmd("noop") == OK
    srv.wait_log("user=admin logged in over TLS")


def test_tls_injection_discarded(srv):
    """A login pipelined behind "#!TLS" is dropped, never executed."""
    c = Ctrl(srv.ports["ctrl"])
    c.send(b"#!TLS\r\n" + tabline(ADMIN, ADMIN_PW) + b"\r\n")
    assert c.line() == b"+00000 Ready to start TLS mode"
    c.buf = b""
    c.starttls()
    assert c.cmd("noop") == BAD_LOGIN
    assert c.closed()


def test_tls_twice(srv):
    c = Ctrl(srv.ports["ctrl"])
    assert c.raw(b"#!TLS") == b"+00000 Ready to start TLS mode"
    c.starttls()
    assert c.raw(b"#!TLS") == b"-00242 TLS link already active"
    assert c.closed()


def test_tls_disabled(root, start_server):
    set_vars(root, **{"EnableCTRL_TLS": 0})
    srv = start_server(root)
    c = Ctrl(srv.ports["ctrl"])
    assert c.raw(b"#!TLS") == b"-00249 TLS service disabled"
    assert c.closed()


def test_tls_without_certificate(root, start_server):
    (root / "server.cert").unlink()
    (root / "server.key").unlink()
    srv = start_server(root, "-W-")
    c = Ctrl(srv.ports["ctrl"])
    assert c.raw(b"#!TLS") == b"-00249 TLS service disabled"
    assert c.closed()


def test_ctrls_native_tls(srv):
    c = Ctrl(srv.ports["ctrls"], tls=True)
    assert GREETING.match(c.greeting)
    assert c.login(ADMIN, md5_login(c.stamp, ADMIN_PW), clear=True) == OK
    assert c.cmd("noop") == OK
    assert c.cmd("quit") == OK
    assert c.closed()
    c = Ctrl(srv.ports["ctrls"], tls=True)
    assert c.raw(b"#!TLS") == b"-00242 TLS link already active"
    assert c.closed()


# ---------------------------------------------------------------- commands

def test_bad_commands_keep_session(srv):
    c = logged_in(srv)
    assert c.cmd("frobnicate") == BAD_SYNTAX
    assert c.cmd("noop", "extra") == BAD_SYNTAX
    assert c.cmd("useradd", DOMAIN) == BAD_SYNTAX
    assert c.cmd("useradd", DOMAIN, "u", "p", "U", "x") == BAD_SYNTAX
    assert c.cmd("userdel") == BAD_SYNTAX
    assert c.raw(b'"noop') == BAD_SYNTAX          # unterminated quote
    assert c.raw(b'"noop"x') == BAD_SYNTAX         # text after the quote
    assert c.raw(b"") == BAD_SYNTAX
    assert c.raw(b"\t\t") == BAD_SYNTAX
    assert c.raw(b"#noop") == BAD_SYNTAX
    assert c.raw(b"\t".join([b"noop"] * 65)) == BAD_SYNTAX
    assert c.cmd("noop") == OK


def test_bad_characters(srv):
    c = logged_in(srv)
    bad = b"-00190 Bad characters in command line"
    assert c.raw(b'"noop"\t"\xc3\xa9"') == bad
    assert c.raw(b"noop\x01") == bad
    assert c.raw(b"noop\x7f") == bad
    assert c.raw(b"noop\x00") == bad
    assert c.raw(b"noop\nnoop") == bad            # bare LF inside a line
    assert c.cmd("noop") == OK


def test_line_too_long(srv):
    c = logged_in(srv)
    c.send(b"noop\t" + b"x" * 9000 + b"\r\nnoop\r\n")
    assert c.line() == b"-00162 Stream line too long"
    assert c.closed()


def test_line_too_long_before_login(srv):
    c = Ctrl(srv.ports["ctrl"])
    assert c.raw(b"a" * 9000) == b"-00162 Stream line too long"
    assert c.closed()


def test_pipelined_commands_answered_in_order(srv):
    c = logged_in(srv)
    c.send(b"noop\r\nbogus\r\nnoop\r\nquit\r\n")
    assert [c.line() for _ in range(4)] == [OK, BAD_SYNTAX, OK, OK]
    assert c.closed()


def test_idle_timeout(root, start_server):
    srv = start_server(root, "-Ct", "1")
    c = logged_in(srv)
    t0 = time.monotonic()
    assert c.closed(timeout=10)
    assert time.monotonic() - t0 < 8
    c = Ctrl(srv.ports["ctrl"])   # also before the login
    assert c.closed(timeout=10)
    srv.wait_log("ctrl: peer=127.0.0.1 idle timeout")


def test_shutdown_closes_idle_sessions(root, start_server):
    srv = start_server(root)
    c = logged_in(srv)
    srv.signal(signal.SIGTERM)
    assert c.line() == b"-00001 Server shutdown"
    assert c.closed()
    assert srv.wait_exit() == 0


# ---------------------------------------------------------------- logs

def test_passwords_never_logged(root, start_server):
    srv = start_server(root, "-Cl")
    c = Ctrl(srv.ports["ctrl"])
    assert c.login(ADMIN, "Wr0ngPassw0rd", clear=True) == BAD_LOGIN
    c = Ctrl(srv.ports["ctrl"])
    digest = md5_login(c.stamp, ADMIN_PW)
    assert c.login(ADMIN, digest, clear=True) == OK
    assert c.cmd("useradd", DOMAIN, "dave", "D4vePassw0rd", "U") == OK
    assert c.cmd("userpasswd", DOMAIN, "dave", "N3wPassw0rd") == OK
    # Refused lines: a misspelt command, a wrong parameter count.
    assert c.cmd("usradd", DOMAIN, "x", "Typ0Passw0rd", "U") == BAD_SYNTAX
    assert c.cmd("useradd", DOMAIN, "y", "C0untPassw0rd") == BAD_SYNTAX
    assert c.cmd("quit") == OK
    c = logged_in(srv)
    assert c.cmd("quit") == OK
    srv.wait_log("user=admin useradd +00000")
    log = ctrl_logs(root)
    for text in (srv.log(), log):
        for secret in (ADMIN_PW, "Wr0ngPassw0rd", digest[1:], "D4vePassw0rd",
                       "N3wPassw0rd", "Typ0Passw0rd", "C0untPassw0rd"):
            assert secret not in text
    recs = [line.split("\t") for line in log.splitlines()]
    assert ['"127.0.0.1"', '"admin"', '"*"'] == recs[0][:3]
    assert [r[4] for r in recs if r[4] in ('"AUTH"', '"FAIL"')] == \
        ['"FAIL"', '"AUTH"', '"AUTH"']
    useradd = [r for r in recs if '"useradd"' in r]
    assert len(useradd) == 2
    assert useradd[1][4:] == ['"CMD"', '"-00103"', '"useradd"',
                              '"%s"' % DOMAIN, '"y"', '"*"']
    assert useradd[0][4:] == ['"CMD"', '"+00000"', '"useradd"',
                              '"%s"' % DOMAIN, '"dave"', '"*"', '"U"']
    typo = [r for r in recs if '"usradd"' in r]
    assert typo[0][4:] == ['"CMD"', '"-00103"', '"usradd"', '"*"', '"*"',
                           '"*"', '"*"']


# ---------------------------------------------------------------- upload, listing

def test_upload_round_trip(srv, root):
    c = logged_in(srv)
    lines = [b'"0.0.0.0/0"\t"ALLOW"\t"1"', b".one dot", b"..two dots",
             b".", b"", b"last"]
    assert c.cmd("cfgfileset", "finger.ipmap.tab") == b"+00101 OK"
    assert c.upload(lines) == OK
    assert (root / "finger.ipmap.tab").read_bytes() == \
        b"".join(x + b"\n" for x in lines)
    assert c.cmd("cfgfileget", "finger.ipmap.tab") == b"+00100 OK"
    assert c.listing() == lines
    # Zero-length data deletes the file.
    assert c.cmd("cfgfileset", "finger.ipmap.tab") == b"+00101 OK"
    assert c.upload([]) == OK
    assert not (root / "finger.ipmap.tab").exists()
    assert c.cmd("cfgfileget", "finger.ipmap.tab").startswith(b"-")
    assert c.cmd("noop") == OK


def test_upload_pipelined_with_8bit_data(srv, root):
    c = logged_in(srv)
    c.send(tabline("cfgfileset", "finger.ipmap.tab") + b"\r\n"
           b"# caf\xc3\xa9\r\n.\r\nnoop\r\n")
    assert [c.line() for _ in range(3)] == [b"+00101 OK", OK, OK]
    assert (root / "finger.ipmap.tab").read_bytes() == b"# caf\xc3\xa9\n"


def test_upload_line_too_long_refused(srv, root):
    before = (root / "finger.ipmap.tab").read_bytes()
    c = logged_in(srv)
    assert c.cmd("cfgfileset", "finger.ipmap.tab") == b"+00101 OK"
    assert c.upload([b"# ok", b"#" + b"x" * 9000, b"# after"]) == \
        b"-00230 Invalid parameter"
    assert (root / "finger.ipmap.tab").read_bytes() == before
    assert c.cmd("noop") == OK


def test_upload_refused_before_data(srv):
    c = logged_in(srv)
    reply = c.cmd("cfgfileset", "../outside.tab")
    assert reply.startswith(b"-")
    assert c.cmd("noop") == OK


def test_domainlist(srv):
    c = logged_in(srv)
    assert c.cmd("domainlist") == b"+00100 OK"
    assert any(DOMAIN.encode() in x for x in c.listing())
    assert c.cmd("noop") == OK


# ---------------------------------------------------------------- end to end

def test_useradd_then_smtp_and_pop3_at_once(root, start_server):
    set_vars(root, Pop3AllowPlainAuth=1)
    srv = start_server(root, "-Pw", "0")
    c = logged_in(srv)
    assert c.cmd("useradd", DOMAIN, "carol", "C4rolPw", "U") == OK
    # No sleep: the reply came after the new snapshot was installed.
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as s:
        s.sendmail("sender@remote.test", ["carol@" + DOMAIN],
                   "From: sender@remote.test\r\nSubject: hi carol\r\n\r\n"
                   "Welcome.\r\n")
    assert len(wait_messages(root, "carol", 1)) == 1
    p = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=10)
    p.user("carol@" + DOMAIN)
    assert p.pass_("C4rolPw").startswith(b"+OK")
    _, lines, _ = p.retr(1)
    assert b"Subject: hi carol" in lines
    p.quit()
    assert c.cmd("userdel", DOMAIN, "carol") == OK
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as s:
            s.sendmail("sender@remote.test", ["carol@" + DOMAIN],
                       "Subject: gone\r\n\r\nx\r\n")


def test_concurrent_clients_add_users(tmp_path, start_server):
    root = admin_root(tmp_path / "MailRoot", users={})
    srv = start_server(root)
    errors = []

    def add(prefix):
        try:
            c = logged_in(srv)
            for i in range(20):
                reply = c.cmd("useradd", DOMAIN, "%s%02d" % (prefix, i),
                              "Pw%d" % i, "U")
                if reply != OK:
                    errors.append(reply)
            c.cmd("quit")
        except Exception as e:   # reported below, in the main thread
            errors.append(e)

    threads = [threading.Thread(target=add, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    recs = [x for x in (root / "mailusers.tab").read_text().splitlines()
            if x.strip() and not x.startswith("#")]
    names = sorted(x.split("\t")[1].strip('"') for x in recs)
    assert names == sorted("%s%02d" % (p, i) for p in "ab" for i in range(20))
    c = logged_in(srv)
    assert c.cmd("userlist", DOMAIN) == b"+00100 OK"
    assert len(c.listing()) == 40


# ---------------------------------------------------------------- every command

def frozen_message(root, name="1700000000.1.2.3.host"):
    """A frozen spool file (spool/1/2/froz) and its slog, as the queue
    leaves them after a permanent failure."""
    b = root / "spool" / "1" / "2"
    for d in ("froz", "slog"):
        (b / d).mkdir(parents=True, exist_ok=True)
    (b / "froz" / name).write_bytes(
        b"[127.0.0.1]:40000;[127.0.0.1]:25;Mon, 1 Jan 2024 10:00:00 +0000"
        b"\r\nexample.test\r\nS2A\r\nMAIL FROM:<alice@example.test>\r\n"
        b"RCPT TO:<dave@remote.test>\r\n<<MAIL-DATA>>\r\n"
        b"Subject: frozen\r\n\r\n.leading dot\r\n")
    (b / "slog" / name).write_bytes(b"[PeekTime] 1700000000 : x\r\n")
    return name


LIST = b"+00100 OK"
UPLOAD = b"+00101 OK"


def test_every_command_over_a_raw_socket(root, start_server):
    """Each command of the XMail 1.27 admin protocol (and the backup-MX
    extension), in the order an administrator would use them, with its
    reply code, listing or upload, on one session; then the MailRoot
    shows the results."""
    frozen = frozen_message(root)
    srv = start_server(root)
    c = logged_in(srv)
    d = "new.test"

    def ok(*f):
        assert c.cmd(*f) == OK, f

    def listing(*f):
        assert c.cmd(*f) == LIST, f
        return c.listing()

    ok("noop")
    ok("domainadd", d)
    assert listing("domainlist", "new.*") == [tabline(d)]
    ok("aliasdomainadd", d, "alias.test")
    assert listing("aliasdomainlist") == [tabline(d, "alias.test")]
    ok("useradd", d, "joe", "J0e-pass", "U")
    ok("useradd", d, "team", "T3am-pass", "M")
    assert listing("userlist", d, "j*") == [tabline(d, "joe", "", "U")]
    ok("userpasswd", d, "joe", "N3w-pass")
    ok("userauth", d, "joe", "N3w-pass")
    assert c.cmd("userauth", d, "joe", "J0e-pass") == \
        b"-00024 Invalid password"
    stat = listing("userstat", d, "joe")
    assert tabline("RealAddress", "joe@" + d) in stat
    ok("uservarsset", d, "joe", "RealName", "Joe Doe", "MaxMBSize", "100")
    assert tabline("RealName", "Joe Doe") in listing("uservars", d, "joe")
    ok("uservarsset", d, "joe", "RealName", ".|rm")
    assert tabline("RealName", "Joe Doe") not in listing("uservars", d,
                                                         "joe")
    assert c.cmd("usersetmproc", d, "joe") == UPLOAD
    assert c.upload([b'"mailbox"']) == OK
    assert listing("usergetmproc", d, "joe", "U") == [b'"mailbox"']
    ok("aliasadd", d, "webmaster", "joe")
    assert listing("aliaslist", d, "*", "joe") == [
        tabline(d, "webmaster", "joe")]
    ok("aliasdel", d, "webmaster")
    ok("exaliasadd", "joe@" + d, "joe@far.test")
    assert listing("exaliaslist", "*@" + d) == [
        tabline("far.test", "joe", d, "joe")]
    ok("exaliasdel", "joe@far.test")
    ok("mluseradd", d, "team", "anne@far.test", "RW")
    assert listing("mluserlist", d, "team") == [
        tabline("anne@far.test", "RW")]
    ok("mluserdel", d, "team", "anne@far.test")
    assert c.cmd("custdomset", "cust.test") == UPLOAD
    assert c.upload([b'"mailbox"\t"joe@new.test"']) == OK
    assert listing("custdomlist") == [tabline("cust.test")]
    assert listing("custdomget", "cust.test") == [
        b'"mailbox"\t"joe@new.test"']
    ok("poplnkadd", d, "joe", "pop.far.test", "joe", "P0p-pass", "CLR")
    assert listing("poplnklist", d, "joe") == [
        tabline(d, "joe", "pop.far.test", "joe", "", "CLR", "ON")]
    ok("poplnkenable", "0", d, "joe")
    assert listing("poplnklist", d)[0].endswith(b'"OFF"')
    ok("poplnkdel", d, "joe", "pop.far.test", "joe")
    ok("mxbackupadd", "partner.test", "HOST")
    assert listing("mxbackuplist") == [tabline("partner.test", "HOST")]
    ok("mxbackupdel", "partner.test")
    assert c.cmd("cfgfileset", "cmdaliases/readme.txt") == UPLOAD
    assert c.upload([b".dot line", b"plain"]) == OK
    assert listing("cfgfileget", "cmdaliases/readme.txt") == [
        b".dot line", b"plain"]
    assert listing("filelist", "cmdaliases", "*.txt") == [
        tabline("readme.txt", "16")]
    [froz] = listing("frozlist")
    assert froz.startswith(tabline(frozen, "1", "2"))
    assert listing("frozgetlog", "1", "2", frozen) == [
        b"[PeekTime] 1700000000 : x"]
    assert b".leading dot" in listing("frozgetmsg", "1", "2", frozen)
    ok("frozsubmit", "1", "2", frozen)
    assert listing("frozlist") == []
    ok("etrn", "*@far.test")
    ok("userdel", d, "team")
    ok("aliasdomaindel", "alias.test")
    ok("domaindel", d)
    assert c.cmd("quit") == OK
    assert c.closed()
    assert not (root / "domains" / d).exists()
    assert not (root / "cmdaliases" / d).exists()
    assert (root / "cmdaliases" / "readme.txt").read_bytes() == \
        b".dot line\nplain\n"
    assert not (root / "spool" / "1" / "2" / "froz" / frozen).exists()
