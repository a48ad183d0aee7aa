"""POP3 and POP3S: real clients (poplib, curl, fetchmail, openssl s_client)
against the real server, plus byte-level sessions for the hostile cases.

TLS clients never verify the server's self-signed certificate.
"""
import hashlib
import os
import poplib
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import DOMAIN, USERS, client_ctx, set_vars

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN
BAD_AUTH = b"-ERR [AUTH] Invalid auth or access denied"
IN_USE = b"-ERR [IN-USE]"
GREETING = re.compile(rb"^\+OK (<\d+\.\d+@[^>]+>) \[postroom POP3 Server\]"
                      rb" service ready; ")


# ---------------------------------------------------------------- helpers

def allow_plain(root):
    return set_vars(root, Pop3AllowPlainAuth=1)


def user_dir(root, user):
    return root / "domains" / DOMAIN / user


def new_dir(root, user):
    return user_dir(root, user) / "Maildir" / "new"


def put_msg(root, user, name, data, sub="new"):
    """Write a message file straight into the Maildir (precise content)."""
    d = user_dir(root, user) / "Maildir" / sub
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)
    return d / name


def wait_files(d, count, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        files = sorted(p.name for p in d.iterdir()) if d.exists() else []
        if len(files) >= count or time.monotonic() > deadline:
            return files
        time.sleep(0.05)


def deliver(server, root, user, bodies):
    """Send messages over SMTP and wait until they are in Maildir/new."""
    before = len(wait_files(new_dir(root, user), 0, 0))
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as c:
        for i, body in enumerate(bodies):
            c.sendmail("sender@remote.test", ["%s@%s" % (user, DOMAIN)],
                       "From: sender@remote.test\r\nSubject: m%d\r\n\r\n%s"
                       % (i, body))
    files = wait_files(new_dir(root, user), before + len(bodies))
    assert len(files) == before + len(bodies)
    return files


def pop(server, port="pop3"):
    return poplib.POP3("127.0.0.1", server.ports[port], timeout=10)


def login(server, user="alice"):
    p = pop(server)
    p.user("%s@%s" % (user, DOMAIN))
    p.pass_(USERS[user])
    return p


def apop_digest(greeting, secret):
    stamp = GREETING.match(greeting).group(1)
    return hashlib.md5(stamp + secret.encode()).hexdigest()


class Raw:
    """A byte-level POP3 client that can switch to TLS (own recv buffer)."""

    def __init__(self, port, tls=False):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            self.s = client_ctx().wrap_socket(self.s)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                rest, self.buf = self.buf, b""
                return rest
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def cmd(self, data):
        self.send(data + b"\r\n")
        return self.line()

    def multi(self):
        lines = []
        while True:
            line = self.line()
            if line == b".":
                return lines
            lines.append(line)

    def starttls(self):
        assert not self.buf
        self.s = client_ctx().wrap_socket(self.s)

    def closed(self, timeout=5):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        self.s.close()


def login_raw(port, user="alice", tls=False):
    r = Raw(port, tls)
    assert r.cmd(b"USER %s@%s" % (user.encode(), DOMAIN.encode())) \
        .startswith(b"+OK")
    assert r.cmd(b"PASS " + USERS[user].encode()).startswith(b"+OK Maildrop")
    return r


@pytest.fixture
def plain(mailroot, start_server):
    """A server that allows USER/PASS in clear text."""
    allow_plain(mailroot)
    return start_server(mailroot, "-Pw", "0")


# ---------------------------------------------------------------- sessions

def test_greeting_capa_and_login(plain, mailroot):
    p = pop(plain)
    assert GREETING.match(p.getwelcome())
    caps = p.capa()
    for cap in ("TOP", "USER", "UIDL", "PIPELINING", "RESP-CODES",
                "AUTH-RESP-CODE", "STLS", "IMPLEMENTATION"):
        assert cap in caps
    assert p.user(ALICE) == b"+OK Password required for " + ALICE.encode()
    assert p.pass_("secret") == b"+OK Maildrop has 0 messages (0 bytes)"
    assert p.stat() == (0, 0)
    assert p.quit() == b"+OK [postroom POP3 Server] closing session"


def test_list_sizes_equal_retr_octets(plain, mailroot):
    bodies = ["Hello Alice.\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n",
              "x" * 990 + "\r\n" + "line\r\n" * 50]
    deliver(plain, mailroot, "alice", bodies)
    p = login(plain)
    count, total = p.stat()
    assert count == 2
    _, listing, _ = p.list()
    sizes = [int(x.split()[1]) for x in listing]
    assert sum(sizes) == total
    for i, size in enumerate(sizes, 1):
        resp, lines, octets = p.retr(i)
        assert resp == b"+OK %d bytes" % size
        assert octets == size == sum(len(x) + 2 for x in lines)
        assert p.list(i) == b"+OK %d %d" % (i, size)
    _, lines, _ = p.retr(1)
    assert b".leading dot" in lines and b"..two dots" in lines
    assert b"." in lines and lines[-1] == b"end"
    assert lines[0].startswith(b"Return-Path: <sender@remote.test>")
    p.quit()


@pytest.mark.parametrize("data", [
    b"Subject: lf\n\nbody\n.dot\n",
    b"Subject: crlf\r\n\r\nbody\r\n",
    b"Subject: mixed\r\nX: y\n\r\nline\nline2\r\n",
    b"Subject: cr\r\n\r\na\rb\r\n",
])
def test_xmail_files_exact_sizes(plain, mailroot, data):
    """Files written by XMail (no W= in the name, mixed endings)."""
    put_msg(mailroot, "alice", "1700000000000.1a2b.3c.4.xmailhost", data)
    p = login(plain)
    _, listing, _ = p.list()
    size = int(listing[0].split()[1])
    _, lines, octets = p.retr(1)
    assert octets == size
    assert p.uidl(1) == b"+OK 1 1700000000000.1a2b.3c.4.xmailhost"
    p.quit()


def test_top(plain, mailroot):
    put_msg(mailroot, "alice", "1.M1P1Q1.h",
            b"A: 1\nB: 2\n\nl1\n.l2\nl3\n")
    r = login_raw(plain.ports["pop3"])
    assert r.cmd(b"TOP 1 0").startswith(b"+OK message is ")
    assert r.multi() == [b"A: 1", b"B: 2", b""]
    assert r.cmd(b"TOP 1 2").startswith(b"+OK")
    assert r.multi() == [b"A: 1", b"B: 2", b"", b"l1", b"..l2"]
    assert r.cmd(b"TOP 1 99").startswith(b"+OK")
    assert r.multi()[-1] == b"l3"
    for bad in (b"TOP 1", b"TOP 1 x", b"TOP x 1", b"TOP 1 -1", b"TOP"):
        assert r.cmd(bad) == b"-ERR Invalid syntax"
    assert r.cmd(b"TOP 2 1") == b"-ERR No such message"
    assert r.cmd(b"QUIT").startswith(b"+OK")


def test_apop_without_plain_auth(mailroot, start_server):
    srv = start_server(mailroot)
    deliver(srv, mailroot, "bob", ["apop\r\n"])
    p = pop(srv)
    assert p.apop(BOB, "hunter2").startswith(b"+OK Maildrop has 1 ")
    p.quit()
    r = Raw(srv.ports["pop3"])
    digest = apop_digest(r.greeting, "wrong")
    assert r.cmd(b"APOP %s %s" % (BOB.encode(), digest.encode())) == \
        BAD_AUTH
    assert r.cmd(b"APOP bob") == b"-ERR Invalid syntax"
    assert r.cmd(b"APOP bob 1234") == b"-ERR Invalid syntax"


def test_bare_user_takes_pop3domain(plain, mailroot):
    p = pop(plain)
    assert p.user("alice") == b"+OK Password required for " + \
        ALICE.encode()
    assert p.pass_("secret").startswith(b"+OK Maildrop")
    p.quit()
    for login_name in ("alice%" + DOMAIN, "alice:" + DOMAIN):
        p = pop(plain)
        p.user(login_name)
        assert p.pass_("secret").startswith(b"+OK Maildrop")
        p.quit()


def test_commands_out_of_state(plain):
    r = Raw(plain.ports["pop3"])
    for c in (b"STAT", b"LIST", b"RETR 1", b"DELE 1", b"UIDL", b"NOOP",
              b"RSET", b"LAST", b"TOP 1 1", b"PASS secret"):
        assert r.cmd(c) == b"-ERR Command not valid here", c
    assert r.cmd(b"FOO") == b"-ERR Invalid command"
    assert r.cmd(b"USER") == b"-ERR Invalid syntax"
    assert r.cmd(b"USER a b") == b"-ERR Invalid syntax"
    assert r.cmd(b"CAPA x") == b"-ERR Invalid syntax"
    r.close()
    r = login_raw(plain.ports["pop3"])
    assert r.cmd(b"USER bob@example.test") == b"-ERR Command not valid here"
    assert r.cmd(b"PASS x") == b"-ERR Command not valid here"
    assert r.cmd(b"APOP a " + b"0" * 32) == b"-ERR Command not valid here"
    assert r.cmd(b"STLS") == b"-ERR Command not valid here"
    assert r.cmd(b"STAT") == b"+OK 0 0"
    assert r.cmd(b"quit").startswith(b"+OK")


def test_dele_rset_last_and_deleted_messages(plain, mailroot):
    deliver(plain, mailroot, "alice", ["one\r\n", "two\r\n", "three\r\n"])
    r = login_raw(plain.ports["pop3"])
    assert r.cmd(b"DELE 99") == b"-ERR No such message"
    assert r.cmd(b"DELE 0") == b"-ERR No such message"
    assert r.cmd(b"DELE x") == b"-ERR Invalid syntax"
    assert r.cmd(b"DELE 1 2") == b"-ERR Invalid syntax"
    assert r.cmd(b"LAST") == b"+OK 0"
    assert r.cmd(b"DELE 2") == b"+OK Message deleted"
    assert r.cmd(b"DELE 2") == b"-ERR Message deleted"
    assert r.cmd(b"RETR 2") == b"-ERR Message deleted"
    assert r.cmd(b"TOP 2 0") == b"-ERR Message deleted"
    assert r.cmd(b"LIST 2") == b"-ERR Message deleted"
    assert r.cmd(b"UIDL 2") == b"-ERR Message deleted"
    assert r.cmd(b"LAST") == b"+OK 2"
    stat = r.cmd(b"STAT").split()
    assert stat[1] == b"2"
    assert r.cmd(b"LIST").startswith(b"+OK 2 ")
    assert [x.split()[0] for x in r.multi()] == [b"1", b"3"]
    assert r.cmd(b"UIDL") == b"+OK 2"
    assert [x.split()[0] for x in r.multi()] == [b"1", b"3"]
    assert r.cmd(b"RSET").startswith(b"+OK Maildrop has 3 messages")
    assert r.cmd(b"LAST") == b"+OK 0"
    assert r.cmd(b"RETR 2").startswith(b"+OK")
    r.multi()
    assert r.cmd(b"LAST") == b"+OK 2"
    assert r.cmd(b"NOOP").startswith(b"+OK Maildrop has 3 messages")


def test_deletions_only_at_quit(plain, mailroot):
    deliver(plain, mailroot, "alice", ["one\r\n", "two\r\n"])
    r = login_raw(plain.ports["pop3"])
    assert r.cmd(b"DELE 1") == b"+OK Message deleted"
    r.close()                              # no QUIT: nothing deleted
    assert len(wait_files(new_dir(mailroot, "alice"), 2, 0)) == 2
    deadline = time.monotonic() + 10
    while True:                            # the lock goes with the session
        r = Raw(plain.ports["pop3"])
        r.cmd(b"USER " + ALICE.encode())
        reply = r.cmd(b"PASS secret")
        if reply.startswith(b"+OK") or time.monotonic() > deadline:
            break
        r.close()
        time.sleep(0.1)
    assert reply == b"+OK Maildrop has 2 messages (%d bytes)" % int(
        reply.split(b"(")[1].split()[0])
    assert r.cmd(b"DELE 1") == b"+OK Message deleted"
    assert r.cmd(b"QUIT") == b"+OK [postroom POP3 Server] closing session"
    assert r.closed()
    assert len(os.listdir(new_dir(mailroot, "alice"))) == 1


def test_concurrent_login_in_use(plain, mailroot):
    a = login_raw(plain.ports["pop3"])
    b = Raw(plain.ports["pop3"])
    b.cmd(b"USER " + ALICE.encode())
    assert b.cmd(b"PASS secret").startswith(IN_USE)
    # a wrong password never reveals that the mailbox is in use
    b.cmd(b"USER " + ALICE.encode())
    assert b.cmd(b"PASS wrong") == BAD_AUTH
    assert a.cmd(b"QUIT").startswith(b"+OK")
    assert a.closed()
    b.cmd(b"USER " + ALICE.encode())
    assert b.cmd(b"PASS secret").startswith(b"+OK Maildrop")
    # other mailboxes are independent
    c = login_raw(plain.ports["pop3"], "bob")
    c.cmd(b"QUIT")
    b.cmd(b"QUIT")


def test_lock_released_after_abrupt_disconnect(plain, mailroot):
    a = login_raw(plain.ports["pop3"])
    a.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                   b"\x01\x00\x00\x00\x00\x00\x00\x00")
    a.close()                              # RST, no QUIT
    deadline = time.monotonic() + 10
    while True:
        b = Raw(plain.ports["pop3"])
        b.cmd(b"USER " + ALICE.encode())
        reply = b.cmd(b"PASS secret")
        if not reply.startswith(IN_USE) or time.monotonic() > deadline:
            break
        b.close()
        time.sleep(0.1)
    assert reply.startswith(b"+OK Maildrop")
    assert os.listdir(mailroot / "pop3locks") == ["alice@%s.lock" % DOMAIN]
    b.cmd(b"QUIT")
    assert b.closed()
    assert os.listdir(mailroot / "pop3locks") == []


def test_stale_locks_wiped_at_start(mailroot, start_server):
    allow_plain(mailroot)
    (mailroot / "pop3locks" / ("alice@%s.lock" % DOMAIN)).write_text("1\n")
    srv = start_server(mailroot)
    login(srv).quit()


def test_message_delivered_during_session_not_visible(plain, mailroot):
    deliver(plain, mailroot, "alice", ["first\r\n"])
    r = login_raw(plain.ports["pop3"])
    before = r.cmd(b"STAT")
    deliver(plain, mailroot, "alice", ["second\r\n"])
    assert r.cmd(b"STAT") == before
    assert r.cmd(b"LIST 2") == b"-ERR No such message"
    r.cmd(b"QUIT")
    assert r.closed()
    p = login(plain)
    assert p.stat()[0] == 2
    p.quit()


def test_uidl_stable_across_restart(mailroot, start_server):
    allow_plain(mailroot)
    srv = start_server(mailroot)
    deliver(srv, mailroot, "alice", ["a\r\n", "b\r\n", "c\r\n"])
    p = login(srv)
    uids = p.uidl()[1]
    p.quit()
    assert len(set(u.split()[1] for u in uids)) == 3
    for u in uids:                          # RFC 1939 section 7
        uid = u.split()[1]
        assert 1 <= len(uid) <= 70
        assert all(0x21 <= ch <= 0x7e for ch in uid)
    assert srv.stop() == 0
    srv = start_server(mailroot)
    p = login(srv)
    assert p.uidl()[1] == uids
    p.quit()


def test_long_names_get_short_uids(plain, mailroot):
    """RFC 1939 section 7: 1 to 70 printable characters."""
    long_name = "1700000000.M1P1Q1." + "h" * 80 + ",S=4,W=6"
    put_msg(mailroot, "alice", long_name, b"a\nb\n")
    p = login(plain)
    uid = p.uidl(1).split()[2]
    assert re.fullmatch(rb"[0-9a-f]{40}", uid)
    p.quit()
    p = login(plain)
    assert p.uidl(1).split()[2] == uid
    p.quit()


def test_delivery_order(plain, mailroot):
    # M<usecs> is not zero-padded: a string sort would swap these
    put_msg(mailroot, "alice", "1700000000.M999P1Q1.h", b"S: first\n\n")
    put_msg(mailroot, "alice", "1700000000.M1000P1Q2.h", b"S: second\n\n")
    put_msg(mailroot, "alice", "1699999999999.1.1.1.xmail", b"S: xmail\n\n")
    p = login(plain)
    firsts = [p.retr(i)[1][0] for i in (1, 2, 3)]
    assert firsts == [b"S: xmail", b"S: first", b"S: second"]
    p.quit()


def test_scan_cur(plain, mailroot):
    put_msg(mailroot, "alice", "1.M1P1Q1.h,S=3,W=4:2,S", b"a\nb", "cur")
    p = login(plain)
    assert p.stat() == (0, 0)
    p.quit()
    with open(user_dir(mailroot, "alice") / "user.tab", "a") as f:
        f.write('"Pop3ScanCur"\t"1"\n')
    p = login(plain)
    assert p.stat() == (1, 4)
    assert p.uidl(1) == b"+OK 1 1.M1P1Q1.h,S=3,W=4"
    assert p.retr(1)[1:] == ([b"a", b"b"], 6)
    p.dele(1)
    p.quit()
    assert os.listdir(user_dir(mailroot, "alice") / "Maildir" / "cur") == []


def test_mailbox_layout(mailroot, start_server):
    allow_plain(mailroot)
    srv = start_server(mailroot, "-Mm")
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        c.sendmail("s@remote.test", [ALICE], "Subject: mbox\r\n\r\nhi\r\n")
    box = user_dir(mailroot, "alice") / "mailbox"
    assert len(wait_files(box, 1)) == 1
    p = login(srv)
    _, lines, octets = p.retr(1)
    assert octets == int(p.list()[1][0].split()[1])
    assert lines[-1] == b"hi"
    p.dele(1)
    p.quit()
    assert os.listdir(box) == []


def test_large_message(plain, mailroot):
    """Read on a worker (over 128 KiB), sizes still exact."""
    body = "".join(".line %06d %s\r\n" % (i, "y" * 60) for i in range(4000))
    deliver(plain, mailroot, "alice", [body])
    p = login(plain)
    size = int(p.list()[1][0].split()[1])
    assert size > 256 * 1024
    resp, lines, octets = p.retr(1)
    assert octets == size
    assert lines[-1].startswith(b".line 003999")
    resp, lines, _ = p.top(1, 2)
    assert resp.startswith(b"+OK message is %d bytes" % size)
    assert lines[-1].startswith(b".line 000001")
    p.quit()


# ---------------------------------------------------------------- refusals

def test_wrong_password_is_delayed_and_doubled(mailroot, start_server):
    allow_plain(mailroot)
    srv = start_server(mailroot, "-Pw", "1", "-Pl")
    r = Raw(srv.ports["pop3"])
    times = []
    for _ in range(2):
        r.cmd(b"USER " + ALICE.encode())
        t = time.monotonic()
        assert r.cmd(b"PASS Zq7-not-it") == BAD_AUTH
        times.append(time.monotonic() - t)
    assert 0.8 < times[0] < 1.9
    assert 1.8 < times[1] < 3.5
    r.cmd(b"USER " + ALICE.encode())
    assert r.cmd(b"PASS secret").startswith(b"+OK Maildrop")
    r.cmd(b"QUIT")
    log = srv.log()
    # One line per failed login (the store layer does not log it again).
    assert log.count("login=%s failed: bad password" % ALICE) == 2
    assert log.count("failed") == 2
    assert "Zq7-not-it" not in log
    assert "Zq7-not-it" not in "".join(
        f.read_text() for f in (mailroot / "logs").glob("pop3-*"))


def test_wrong_password_hang(mailroot, start_server):
    allow_plain(mailroot)
    srv = start_server(mailroot, "-Ph")
    r = Raw(srv.ports["pop3"])
    r.cmd(b"USER " + ALICE.encode())
    t = time.monotonic()
    assert r.cmd(b"PASS wrong") == BAD_AUTH
    assert r.closed()
    assert time.monotonic() - t < 2


def test_unknown_user_and_pop_enable_zero(plain, mailroot):
    r = Raw(plain.ports["pop3"])
    r.cmd(b"USER nobody@" + DOMAIN.encode())
    assert r.cmd(b"PASS secret") == BAD_AUTH
    r.cmd(b"USER alice@elsewhere.test")
    assert r.cmd(b"PASS secret") == BAD_AUTH
    with open(user_dir(mailroot, "alice") / "user.tab", "a") as f:
        f.write('"PopEnable"\t"0"\n')
    r.cmd(b"USER " + ALICE.encode())
    assert r.cmd(b"PASS secret") == BAD_AUTH
    r.cmd(b"QUIT")
    plain.wait_log("failed: PopEnable=0")


def test_global_ipmap_deny(mailroot, start_server):
    (mailroot / "pop3.ipmap.tab").write_text(
        '"127.0.0.1"\t"255.255.255.255"\t"DENY"\t"5"\n')
    srv = start_server(mailroot)
    r = Raw(srv.ports["pop3"])
    assert r.greeting.startswith(b"-ERR")
    assert r.closed()
    srv.wait_log("refused by pop3.ipmap.tab")


def test_user_ipmap_deny(plain, mailroot):
    (user_dir(mailroot, "alice") / "pop3.ipmap.tab").write_text(
        '"0.0.0.0"\t"0.0.0.0"\t"DENY"\t"1"\n')
    r = Raw(plain.ports["pop3"])
    r.cmd(b"USER " + ALICE.encode())
    assert r.cmd(b"PASS secret") == BAD_AUTH
    login(plain, "bob").quit()


def test_clear_text_user_refused_by_default(mailroot, start_server):
    srv = start_server(mailroot)
    r = Raw(srv.ports["pop3"])
    caps = r.cmd(b"CAPA") and r.multi()
    assert b"USER" not in caps and b"STLS" in caps
    reply = r.cmd(b"USER " + ALICE.encode())
    assert reply.startswith(b"-ERR [AUTH] Plaintext authentication"
                            b" disallowed")
    assert r.cmd(b"PASS secret") == b"-ERR Command not valid here"
    assert r.cmd(b"STLS") == b"+OK Begin TLS negotiation"
    r.starttls()
    assert r.cmd(b"CAPA") == b"+OK Capability list follows"
    caps = r.multi()
    assert b"USER" in caps and b"STLS" not in caps
    assert r.cmd(b"STLS") == b"-ERR Command not permitted when TLS active"
    assert r.cmd(b"USER " + ALICE.encode()).startswith(b"+OK")
    assert r.cmd(b"PASS secret").startswith(b"+OK Maildrop")
    assert r.cmd(b"QUIT").startswith(b"+OK")


def test_stls_discards_pipelined_commands(mailroot, start_server):
    allow_plain(mailroot)
    srv = start_server(mailroot)
    r = Raw(srv.ports["pop3"])
    r.send(b"STLS\r\nUSER " + ALICE.encode() + b"\r\n")
    assert r.line() == b"+OK Begin TLS negotiation"
    r.starttls()
    # the injected USER was never executed: PASS has no USER to go with
    assert r.cmd(b"PASS secret") == b"-ERR Command not valid here"
    assert r.cmd(b"QUIT").startswith(b"+OK")
    srv.wait_log("sent after the TLS command discarded")


def test_stls_disabled(mailroot, start_server):
    set_vars(mailroot, EnablePOP3_TLS=0)
    srv = start_server(mailroot)
    r = Raw(srv.ports["pop3"])
    assert r.cmd(b"CAPA").startswith(b"+OK")
    assert b"STLS" not in r.multi()
    assert r.cmd(b"STLS") == b"-ERR Command disabled"


def test_stls_without_certificate(mailroot, start_server):
    (mailroot / "server.cert").unlink()
    (mailroot / "server.key").unlink()
    srv = start_server(mailroot)
    r = Raw(srv.ports["pop3"])
    assert r.cmd(b"CAPA").startswith(b"+OK")
    assert b"STLS" not in r.multi()
    assert r.cmd(b"STLS") == b"-ERR Server TLS setup error"
    assert r.cmd(b"NOOP") == b"-ERR Command not valid here"


def test_hostile_lines(plain):
    r = Raw(plain.ports["pop3"])
    assert r.cmd(b"NOOP " + b"x" * 600) == b"-ERR Line too long"
    assert r.cmd(b"CAPA") == b"+OK Capability list follows"
    r.multi()
    assert r.cmd(b"USER al\xc3\xafce") == b"-ERR Invalid command"
    assert r.cmd(b"USER a\nb") == b"-ERR Invalid command"
    assert r.cmd(b"US\x00ER a") == b"-ERR Invalid command"
    assert r.cmd(b"") == b"-ERR Invalid command"
    assert r.cmd(b"QUIT").startswith(b"+OK")


def test_too_many_errors_close(plain):
    r = Raw(plain.ports["pop3"])
    for _ in range(19):
        assert r.cmd(b"BOGUS") == b"-ERR Invalid command"
    assert r.cmd(b"BOGUS") == b"-ERR Invalid command"
    assert r.line() == b"-ERR Too many errors, closing session"
    assert r.closed()


def test_idle_timeout(mailroot, start_server):
    allow_plain(mailroot)
    srv = start_server(mailroot, "-Pt", "1")
    r = login_raw(srv.ports["pop3"])
    t = time.monotonic()
    assert r.line() == b"-ERR Timeout, closing session"
    assert r.closed()
    assert time.monotonic() - t < 5


def test_session_limit(mailroot, start_server):
    allow_plain(mailroot)
    srv = start_server(mailroot, "-PX", "1")
    a = Raw(srv.ports["pop3"])
    b = Raw(srv.ports["pop3"])
    assert b.greeting == b"-ERR Server too busy"
    a.cmd(b"QUIT")


def test_shutdown_ends_idle_session_without_update(mailroot, start_server):
    allow_plain(mailroot)
    srv = start_server(mailroot)
    deliver(srv, mailroot, "alice", ["keep me\r\n"])
    r = login_raw(srv.ports["pop3"])
    assert r.cmd(b"DELE 1") == b"+OK Message deleted"
    srv.signal(signal.SIGTERM)
    assert r.line() == b"-ERR Server shutting down"
    assert r.closed()
    assert srv.wait_exit() == 0
    assert len(os.listdir(new_dir(mailroot, "alice"))) == 1
    assert os.listdir(mailroot / "pop3locks") == []


def test_pop3_service_log(mailroot, start_server):
    allow_plain(mailroot)
    set_vars(mailroot, Pop3LogPasswd=1)
    srv = start_server(mailroot, "-Pl", "-Pw", "0")
    p = pop(srv)
    p.user(ALICE)
    with pytest.raises(poplib.error_proto):
        p.pass_("badpass1")
    p.user(ALICE)
    p.pass_("secret")
    p.quit()
    logs = list((mailroot / "logs").glob("pop3-*"))
    assert len(logs) == 1
    recs = [line.split("\t") for line in logs[0].read_text().splitlines()]
    status = [(x[4], x[5], x[6]) for x in recs]
    assert status == [('"%s"' % ALICE, '"LOGIN=EFAIL"', '"badpass1"'),
                      ('"%s"' % ALICE, '"LOGIN=OK"', '""'),
                      ('"%s"' % ALICE, '"QUIT=OK"', '""')]
    assert recs[0][0] == '"127.0.0.1"' and recs[0][2] == '"127.0.0.1"'
    assert recs[0][1] == '"%s"' % DOMAIN


# ---------------------------------------------------------------- TLS clients

def test_poplib_stls_and_pop3s(mailroot, start_server):
    srv = start_server(mailroot)
    deliver(srv, mailroot, "alice", ["over tls\r\n"])
    p = pop(srv)
    assert p.stls(client_ctx()) == b"+OK Begin TLS negotiation"
    p.user(ALICE)
    assert p.pass_("secret").startswith(b"+OK Maildrop has 1 ")
    assert p.retr(1)[1][-1] == b"over tls"
    p.quit()
    p = poplib.POP3_SSL("127.0.0.1", srv.ports["pop3s"],
                        context=client_ctx(), timeout=10)
    assert GREETING.match(p.getwelcome())
    assert "STLS" not in p.capa() and "USER" in p.capa()
    p.user(ALICE)
    assert p.pass_("secret").startswith(b"+OK Maildrop has 1 ")
    p.quit()
    r = Raw(srv.ports["pop3s"], tls=True)
    assert r.cmd(b"STLS") == b"-ERR Command not permitted when TLS active"


def need(tool):
    if shutil.which(tool) is None:
        pytest.skip("%s not installed" % tool)


def test_curl_pop3_and_pop3s(mailroot, start_server):
    need("curl")
    allow_plain(mailroot)
    srv = start_server(mailroot)
    deliver(srv, mailroot, "alice", ["curl one\r\n", "curl two\r\n"])
    base = ["curl", "-sS", "--max-time", "20", "--user", ALICE + ":secret"]
    urls = [("pop3://127.0.0.1:%d" % srv.ports["pop3"], []),
            ("pop3://127.0.0.1:%d" % srv.ports["pop3"],
             ["--ssl-reqd", "-k"]),
            ("pop3s://127.0.0.1:%d" % srv.ports["pop3s"], ["-k"])]
    for url, extra in urls:
        out = subprocess.run(base + extra + [url + "/"], capture_output=True,
                             timeout=30)
        assert out.returncode == 0, out.stderr
        listing = out.stdout.decode().split("\r\n")
        assert listing[0].startswith("1 ") and listing[1].startswith("2 ")
        out = subprocess.run(base + extra + [url + "/2"],
                             capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.endswith(b"\r\ncurl two\r\n")
        assert len(out.stdout) == int(listing[1].split()[1])


def run_fetchmail(tmp_path, port, extra):
    need("fetchmail")
    home = tmp_path / "fmhome"
    home.mkdir(exist_ok=True)
    out = tmp_path / "fetched.mbox"
    rc = home / ".fetchmailrc"
    rc.write_text(
        'poll 127.0.0.1 protocol pop3 port %d uidl\n'
        '  user "%s" there with password "secret" is "localuser" here\n'
        '  mda "cat >> %s"\n  %s\n' % (port, ALICE, out, extra))
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(home))
    p = subprocess.run(["fetchmail", "--nodetach", "--nosyslog", "-f",
                        str(rc), "--pidfile", str(home / "fm.pid")],
                       env=env, capture_output=True, text=True, timeout=60)
    return p, out


@pytest.mark.parametrize("kind", ["stls", "pop3s"])
def test_fetchmail(mailroot, start_server, tmp_path, kind):
    srv = start_server(mailroot)
    deliver(srv, mailroot, "alice", ["fetch one\r\n", ".fetch two\r\n"])
    if kind == "stls":
        port, extra = srv.ports["pop3"], "sslproto TLS1.2+ no sslcertck"
    else:
        port, extra = srv.ports["pop3s"], "ssl no sslcertck"
    p, out = run_fetchmail(tmp_path, port, extra)
    assert p.returncode == 0, p.stdout + p.stderr
    text = out.read_bytes()
    assert b"fetch one" in text and b"\n.fetch two" in text
    assert os.listdir(new_dir(mailroot, "alice")) == []


def s_client(args, commands):
    need("openssl")
    return subprocess.run(["openssl", "s_client", "-quiet", "-crlf"] + args,
                          input=commands, capture_output=True, timeout=30)


def test_openssl_s_client(mailroot, start_server):
    srv = start_server(mailroot)
    deliver(srv, mailroot, "bob", ["via s_client\r\n"])
    cmds = b"USER %s\nPASS hunter2\nSTAT\nQUIT\n" % BOB.encode()
    for args in (["-starttls", "pop3", "-connect",
                  "127.0.0.1:%d" % srv.ports["pop3"]],
                 ["-connect", "127.0.0.1:%d" % srv.ports["pop3s"]]):
        p = s_client(args, cmds)
        assert b"+OK Maildrop has 1 messages" in p.stdout, p.stderr
        assert b"+OK [postroom POP3 Server] closing session" in p.stdout
