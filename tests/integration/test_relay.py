"""Outbound delivery: the queue and the SMTP client against scripted peers
(peers.SmtpPeer), a private dnsmasq, smtp-sink and a second postroom.

The sending postroom gets its messages over SMTP from 127.0.0.1 (relaying
from loopback is allowed), routes them by smtpgw.tab, smtpfwd.tab,
DefaultSMTPGateways or MX records, and its SmartDNSHost is the test
dnsmasq, never the system resolver.
"""
import email
import email.policy
import glob
import re
import signal
import smtplib
import subprocess
import time

import pytest

from conftest import POSTROOM, init_mailroot, wait_messages
from peers import (ALL_CAPS, DROP, Blackhole, Dnsmasq, SmtpPeer, SmtpSink, free_port,
                   smtp_sink_path, wait_for)

ALICE = "alice@example.test"

# Addresses of the peers (Linux routes all of 127/8 to lo).
MX1, MX2, IMPLICIT, RELAY_AUTH = ("127.0.0.2", "127.0.0.3", "127.0.0.4",
                                  "127.0.0.6")

DNS_RECORDS = [
    "--mx-host=dom.test,mx1.dom.test,10",
    "--mx-host=dom.test,mx2.dom.test,20",
    "--host-record=mx1.dom.test,%s" % MX1,
    "--host-record=mx2.dom.test,%s" % MX2,
    "--mx-host=nullmx.test,.,0",
    "--host-record=implicit.test,%s" % IMPLICIT,
    "--host-record=relay.auth.test,%s" % RELAY_AUTH,
    "--cname=alias.test,dom.test",
    # me.self.test is the sending server itself (127.0.0.1).
    "--host-record=me.self.test,127.0.0.1",
    "--mx-host=best.self.test,me.self.test,10",
    "--mx-host=best.self.test,mx2.dom.test,20",
    "--mx-host=backup.self.test,mx1.dom.test,10",
    "--mx-host=backup.self.test,me.self.test,20",
]

FAST = ("-Qt", "1", "-Qi", "0", "-Ql")     # retry every second
SLOW = ("-Qt", "3600", "-Qi", "0", "-Ql")   # retried only when flushed


def msg(subject="test", body="Hello.\r\n", to="rcpt@remote.test"):
    return ("From: Alice <alice@example.test>\r\nTo: %s\r\n"
            "Subject: %s\r\nMessage-ID: <%s.%d@example.test>\r\n\r\n%s" % (
                to, subject, subject.replace(" ", "-"), time.monotonic_ns(),
                body)).encode()


# ---- fixtures ------------------------------------------------------------

@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    d = Dnsmasq(tmp_path_factory.mktemp("dns"), DNS_RECORDS).start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def certdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def peer_factory(certdir):
    """peer_factory(host=..., port=..., **kw) -> a started SmtpPeer;
    start=False leaves it down (its address and port are reserved only
    by number)."""
    made = []

    def make(host="127.0.0.2", port=None, start=True, **kw):
        p = SmtpPeer(host=host, port=port, certdir=certdir, **kw)
        made.append(p)
        return p.start() if start else p

    yield make
    errors = []
    for p in made:
        p.stop()
        errors += p.errors
    assert not errors, errors


def set_server_tab(root, values):
    """Set server.tab variables (replacing earlier lines of the name)."""
    path = root / "server.tab"
    lines = path.read_text().splitlines()
    names = {'"%s"' % k for k in values}
    lines = [l for l in lines if l.split("\t", 1)[0] not in names]
    lines += ['"%s"\t"%s"' % (k, v) for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")


def write_tab(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join('"%s"' % f for f in row) + "\n"
                            for row in rows))


@pytest.fixture
def relay(mailroot, start_server, dns):
    """relay(*args, tab={}, smtpfwd=[], smtpgw=[], root=mailroot) -> the
    sending server, its server.tab pointing at the test dnsmasq."""

    def make(*args, tab=None, smtpfwd=(), smtpgw=(), root=None, env=None):
        root = root or mailroot
        set_server_tab(root, {"SmartDNSHost": dns.smart_dns_host,
                              **(tab or {})})
        if smtpfwd:
            write_tab(root / "smtpfwd.tab", smtpfwd)
        if smtpgw:
            write_tab(root / "smtpgw.tab", smtpgw)
        return start_server(root, *(args or FAST), env=env)

    return make


def send(srv, rcpts, data=None, sender=ALICE, mail_options=()):
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    if data is None:
        data = msg(to=", ".join(rcpts))
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as c:
        c.ehlo("client.test")
        refused = c.sendmail(sender, rcpts, data,
                             mail_options=list(mail_options))
    assert refused == {}


def spool(root, kind="mess"):
    return sorted(glob.glob(str(root / "spool" / "*" / "*" / kind / "*")))


def spool_text(root, kind):
    return [open(f, "rb").read().decode("utf-8", "replace")
            for f in spool(root, kind)]


def wait_spool_empty(root, timeout=10):
    wait_for(lambda: not spool(root, "mess") and not spool(root, "rsnd"),
             timeout, what="an empty spool (mess %s rsnd %s)" % (
                 spool(root, "mess"), spool(root, "rsnd")))


def log_count(srv, text):
    return srv.log().count(text)


def wait_log_count(srv, text, n, timeout=10):
    wait_for(lambda: log_count(srv, text) >= n, timeout,
             what="%d x %r in the log (have %d)" % (
                 n, text, log_count(srv, text)))


def bounces(root, n=1, timeout=10):
    """The reports in alice's Maildir, parsed."""
    def distinct():
        # postmaster is an alias of alice: ErrorsAdmin's copy lands there
        # too; count each report once (by Message-ID).
        seen = {}
        for m in wait_messages(root, "alice", 0, timeout=0):
            rep = email.message_from_bytes(m, policy=email.policy.compat32)
            seen.setdefault(rep["Message-ID"], rep)
        return list(seen.values())

    deadline = time.monotonic() + timeout
    while len(distinct()) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)                     # a report too many would show now
    got = distinct()
    assert len(got) == n, "expected %d report(s), got %d" % (n, len(got))
    return got


def tried(p):
    """The peer's sessions that got as far as MAIL."""
    return [s for s in p.sessions if "MAIL" in s.verbs()]


def used(p):
    """The peer's sessions that carried a transaction."""
    return [s for s in p.sessions if s.txns]


def check_report(rep, failed, status=None, text=None, not_failed=()):
    """rep is an RFC 3464 report for the recipients in `failed`."""
    assert rep["Return-Path"].strip() == "<>"
    assert "postmaster" in rep["From"].lower()
    assert rep.get_content_type() == "multipart/report"
    assert rep.get_param("report-type") == "delivery-status"
    parts = rep.get_payload()
    types = [p.get_content_type() for p in parts]
    assert "message/delivery-status" in types
    whole = rep.as_string()
    for r in failed:
        assert r in whole
    for r in not_failed:
        ds = parts[types.index("message/delivery-status")].as_string()
        assert r not in ds
    if status:
        assert re.search(r"Status: *%s" % re.escape(status), whole), whole
    if text:
        assert text.lower() in whole.lower(), whole
    return whole


def frozen_with(root, rcpt):
    return [t for t in spool_text(root, "froz") if "<%s>" % rcpt in t]


def gateway(p, opts=""):
    return {"DefaultSMTPGateways": "%s:%d%s" % (p.host, p.port, opts)}


# ---- infrastructure self-checks ------------------------------------------

def test_dnsmasq_answers(dns):
    rcode, mx = dns.query("dom.test", "MX")
    assert rcode == 0
    assert sorted(mx) == [(10, "mx1.dom.test"), (20, "mx2.dom.test")]
    assert dns.query("mx1.dom.test") == (0, [MX1])
    assert dns.query("nullmx.test", "MX") == (0, [(0, ".")])
    assert dns.query("implicit.test", "MX") == (0, [])
    assert dns.query("implicit.test") == (0, [IMPLICIT])
    assert dns.query("nx.test", "MX")[0] == 3          # NXDOMAIN


def test_peer_records_smtplib_session(peer_factory):
    p = peer_factory(caps=ALL_CAPS, auth_users={"u": "pw"})
    p.script("RCPT", "550 5.1.1 no", match="bad@")
    with smtplib.SMTP(p.host, p.port, timeout=5) as c:
        c.ehlo("me.test")
        c.login("u", "pw")
        refused = c.sendmail("a@x.test", ["ok@y.test", "bad@y.test"],
                             b"Subject: s\r\n\r\n.dot\r\n")
    assert list(refused) == ["bad@y.test"]
    [t] = p.wait_messages(1)
    assert t.mail_from == "a@x.test" and t.rcpts == ["ok@y.test"]
    assert t.data == b"Subject: s\r\n\r\n.dot\r\n"
    assert p.sessions[0].auth["ok"]


# ---- basic delivery -------------------------------------------------------

def test_gateway_delivery(relay, peer_factory, mailroot):
    p = peer_factory()
    srv = relay(tab=gateway(p))
    data = msg("basic", "line one\r\n.starts with a dot\r\n")
    send(srv, "rcpt@remote.test", data)
    [t] = p.wait_messages(1)
    wait_spool_empty(mailroot)
    [sess] = used(p)
    assert sess.helo == "example.test"
    assert not sess.bare_lf
    assert t.mail_from == ALICE
    assert t.rcpts == ["rcpt@remote.test"]
    # The relay adds its Received header and keeps the rest byte-exact.
    assert t.data.startswith(b"Received: ")
    assert t.data.endswith(data)
    assert b"\r\n.starts with a dot\r\n" in t.data
    assert b"\r\n..starts with a dot\r\n" in t.raw_data
    srv.wait_log("queue: sent id=")
    line = [l for l in srv.log().splitlines() if "queue: sent id=" in l][0]
    assert "to=<rcpt@remote.test>" in line
    assert "[%s]:%d" % (p.host, p.port) in line and ": 250" in line
    # -Ql: the smail log has a SENT record.
    wait_for(lambda: any("SENT" in open(f).read() for f in
                         glob.glob(str(mailroot / "logs" / "smail-*"))),
             5, what="a SENT record in logs/smail-*")
    # The session ended with QUIT.
    p.wait_closed()
    assert sess.verbs()[-1] == "QUIT"


def test_two_recipients_one_transaction(relay, peer_factory, mailroot):
    p = peer_factory()
    srv = relay(tab=gateway(p))
    send(srv, ["one@remote.test", "two@remote.test"])
    [t] = p.wait_messages(1)
    wait_spool_empty(mailroot)
    assert sorted(t.rcpts) == ["one@remote.test", "two@remote.test"]
    time.sleep(0.5)
    assert len(p.txns()) == 1
    assert sum(v == "DATA" for s in p.sessions for v in s.verbs()) == 1


def test_smarthost_one_transaction_for_several_domains(relay, peer_factory,
                                                       mailroot):
    """Domains behind one smarthost share its sessions: one message to
    three domains is one transaction with three recipients."""
    p = peer_factory()
    srv = relay(tab=gateway(p))
    rcpts = ["a@one.test", "b@two.test", "c@three.test"]
    send(srv, rcpts)
    [t] = p.wait_messages(1)
    wait_spool_empty(mailroot)
    assert sorted(t.rcpts) == rcpts
    assert len(used(p)) == 1


def test_rcpt_550_bounces_only_that_recipient(relay, peer_factory, mailroot):
    p = peer_factory()
    p.script("RCPT", "550 5.1.1 <bad@remote.test>: no such user",
             match="bad@")
    srv = relay(tab=gateway(p))
    send(srv, ["good@remote.test", "bad@remote.test"])
    [rep] = bounces(mailroot)
    check_report(rep, ["bad@remote.test"], status="5.1.1",
                 text="no such user", not_failed=["good@remote.test"])
    [t] = p.wait_messages(1)
    assert t.delivered == ["good@remote.test"]
    wait_spool_empty(mailroot)
    srv.wait_log("queue: failed id=")
    assert frozen_with(mailroot, "bad@remote.test")
    time.sleep(1.5)                     # nothing is sent again
    assert len(p.delivered()) == 1
    assert len(bounces(mailroot, timeout=0)) == 1


def test_rcpt_450_defers_only_that_recipient(relay, peer_factory, mailroot):
    p = peer_factory()
    p.script("RCPT", "450 4.2.1 try later", match="later@", times=1)
    srv = relay("-Qt", "2", "-Qi", "0", tab=gateway(p))
    send(srv, ["now@remote.test", "later@remote.test"])
    srv.wait_log("queue: deferred id=")
    assert "to=<later@remote.test> try 1" in srv.log()
    assert len(spool(mailroot, "rsnd")) == 1
    [slog] = spool_text(mailroot, "slog")
    assert "450 4.2.1 try later" in slog
    wait_for(lambda: len(p.delivered()) == 2, 10, what="the retry")
    wait_spool_empty(mailroot)
    got = sorted(r for r, _ in p.delivered())
    assert got == ["later@remote.test", "now@remote.test"]
    t1, t2 = p.messages()
    assert t1.delivered == ["now@remote.test"]
    assert t2.rcpts == ["later@remote.test"]
    assert not spool(mailroot, "slog")
    time.sleep(1)
    assert len(p.delivered()) == 2
    assert bounces(mailroot, 0, timeout=0) == []


def test_mail_451_deferred_with_slog_then_delivered(relay, peer_factory,
                                                    mailroot):
    p = peer_factory()
    p.script("MAIL", "451 4.3.0 queue full", times=1)
    srv = relay("-Qt", "2", "-Qi", "0", tab=gateway(p))
    send(srv, "rcpt@remote.test")
    srv.wait_log("queue: deferred id=")
    line = [l for l in srv.log().splitlines() if "queue: deferred" in l][0]
    assert "to=<rcpt@remote.test> try 1 via" in line
    assert "451" in line
    assert spool(mailroot, "mess") == []
    assert len(spool(mailroot, "rsnd")) == 1
    [slog] = spool_text(mailroot, "slog")
    assert re.search(r"^\[PeekTime\] \d+ : ", slog, re.M), slog
    assert 'SMTP-Error = "451 4.3.0 queue full"' in slog
    assert re.search(r"^C: MAIL FROM:<alice@example.test>", slog, re.M)
    assert re.search(r"^S: 451 4.3.0 queue full", slog, re.M)
    [t] = p.wait_messages(1, timeout=10)
    wait_spool_empty(mailroot)
    assert spool(mailroot, "slog") == []
    assert len(p.txns()) == 1


def test_data_end_452_then_delivered_once(relay, peer_factory, mailroot):
    p = peer_factory()
    p.script("DOT", "452 4.3.1 insufficient storage", times=1)
    srv = relay(tab=gateway(p))
    send(srv, "rcpt@remote.test")
    p.wait_messages(1, timeout=10)
    wait_spool_empty(mailroot)
    time.sleep(1.5)
    assert len(p.messages()) == 1
    assert len(p.txns()) == 2
    assert "try 1" in srv.log()


def test_disconnect_after_rcpt(relay, peer_factory, mailroot):
    p = peer_factory()
    p.script("RCPT", DROP, times=1)
    srv = relay(tab=gateway(p))
    send(srv, "rcpt@remote.test")
    p.wait_messages(1, timeout=10)
    wait_spool_empty(mailroot)
    srv.wait_log("queue: deferred id=")
    assert len(p.messages()) == 1


def test_greeting_421_deferred(relay, peer_factory, mailroot):
    p = peer_factory()
    p.script("CONNECT", "421 4.3.2 too busy", times=1, close=True)
    srv = relay(tab=gateway(p))
    send(srv, "rcpt@remote.test")
    p.wait_messages(1, timeout=10)
    wait_spool_empty(mailroot)
    assert "421" in [l for l in srv.log().splitlines()
                     if "queue: deferred" in l][0]


def test_command_timeout(relay, peer_factory, mailroot):
    p = peer_factory()
    p.script("MAIL", None, times=1, delay=4)
    srv = relay(tab={**gateway(p), "SMTP-CmdTimeout": "1"})
    t0 = time.monotonic()
    send(srv, "rcpt@remote.test")
    srv.wait_log("queue: deferred id=", timeout=4)
    assert time.monotonic() - t0 < 3.5
    p.wait_messages(1, timeout=10)
    wait_spool_empty(mailroot)
    assert len(p.messages()) == 1


def test_no_starttls_offered_one_connection(relay, peer_factory, mailroot):
    # NeedTLS 1 and a peer without STARTTLS: go on in clear text on the
    # same connection (no reconnect, no dropped session).
    p = peer_factory(caps=("PIPELINING", "8BITMIME"))
    srv = relay(tab=gateway(p))
    send(srv, "rcpt@remote.test")
    p.wait_messages(1)
    wait_spool_empty(mailroot)
    p.wait_closed()
    assert len(p.sessions) == 1, p.sessions
    assert p.sessions[0].verbs()[-1] == "QUIT"


def test_helo_fallback_and_multiline_greeting(relay, peer_factory,
                                              mailroot):
    p = peer_factory(greeting="220-peer.test first line\n220-second\n"
                     "220 peer.test ready")
    p.script("EHLO", "502 5.5.1 EHLO not implemented")
    srv = relay(tab=gateway(p))
    send(srv, "rcpt@remote.test")
    [t] = p.wait_messages(1)
    assert "HELO" in used(p)[0].verbs()
    assert "BODY=" not in t.mail_line.upper()
    wait_spool_empty(mailroot)


def test_large_message_integrity(relay, peer_factory, mailroot):
    p = peer_factory()
    lines = []
    for i in range(30000):
        lines.append(("." if i % 7 == 0 else "") + "line %06d " % i +
                     "z" * (i % 90))
    body = "\r\n".join(lines) + "\r\n.\r\n..\r\nend\r\n"
    data = msg("large", body)
    srv = relay(tab=gateway(p))
    send(srv, "rcpt@remote.test", data)
    [t] = p.wait_messages(1, timeout=20)
    assert t.data.endswith(data)
    wait_spool_empty(mailroot)


def test_null_sender_relayed_and_never_bounced(relay, peer_factory,
                                               mailroot):
    p = peer_factory()
    p.script("RCPT", "550 5.1.1 nobody here", match="gone@")
    srv = relay(tab=gateway(p))
    send(srv, "ok@remote.test", sender="")
    send(srv, "gone@remote.test", sender="")
    [t] = p.wait_messages(1)
    assert t.mail_from == "" and t.mail_line.upper().startswith(
        "MAIL FROM:<>")
    srv.wait_log("queue: failed id=")
    wait_spool_empty(mailroot)
    # Nothing goes to the null sender; ErrorsAdmin (postmaster, an alias
    # of alice) gets the report.
    [rep] = bounces(mailroot)
    assert "postmaster@example.test" in rep["To"]
    check_report(rep, ["gone@remote.test"], status="5.1.1")


def test_smtpgwconfig_default_options(relay, peer_factory, mailroot):
    p = peer_factory(caps=("PIPELINING", "STARTTLS"))
    srv = relay(tab={**gateway(p), "SmtpGwConfig": "NeedTLS=0"})
    send(srv, "rcpt@remote.test")
    p.wait_messages(1)
    assert "STARTTLS" not in [v for s in p.sessions for v in s.verbs()]
    wait_spool_empty(mailroot)


def test_greeting_timeout(relay, peer_factory, mailroot):
    p = peer_factory()
    p.script("CONNECT", None, times=1, delay=4)
    srv = relay(tab={**gateway(p), "SMTP-GreetTimeout": "1"})
    t0 = time.monotonic()
    send(srv, "rcpt@remote.test")
    srv.wait_log("queue: deferred id=", timeout=4)
    assert time.monotonic() - t0 < 3.5
    p.wait_messages(1, timeout=10)
    wait_spool_empty(mailroot)


def test_connect_timeout_falls_back_to_next_host(relay, peer_factory,
                                                 mailroot):
    hole = Blackhole("127.0.0.5")
    try:
        p = peer_factory()
        srv = relay(tab={"SMTP-ConnectTimeout": "1"},
                    smtpfwd=[("remote.test", "%s;%s" % (hole.addr, p.addr))])
        t0 = time.monotonic()
        send(srv, "rcpt@remote.test")
        p.wait_messages(1, timeout=12)
        # 1 s connect limit, not the 30 s default (generous for ASan).
        assert time.monotonic() - t0 < 10
        wait_spool_empty(mailroot)
    finally:
        hole.close()


# ---- extensions ----------------------------------------------------------

BODY_8BIT = "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e\r\n".encode()


def msg_8bit():
    return (b"From: alice@example.test\r\nTo: rcpt@remote.test\r\n"
            b"Subject: 8bit\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" + BODY_8BIT)


def test_8bit_downgraded_to_quoted_printable(relay, peer_factory, mailroot):
    p = peer_factory(caps=("PIPELINING", "ENHANCEDSTATUSCODES"))
    srv = relay(tab=gateway(p))
    send(srv, "rcpt@remote.test", msg_8bit(), mail_options=["BODY=8BITMIME"])
    [t] = p.wait_messages(1)
    wait_spool_empty(mailroot)
    assert "BODY=" not in t.mail_line.upper()
    assert all(b < 128 for b in t.data), t.data
    head, _, body = t.data.partition(b"\r\n\r\n")
    assert re.search(rb"(?im)^Content-Transfer-Encoding: *quoted-printable",
                     head), head
    assert b"Caf=C3=A9 cr=C3=A8me br=C3=BBl=C3=A9e" in body
    parsed = email.message_from_bytes(t.data)
    assert parsed.get_payload(decode=True).replace(b"\r\n", b"\n") == \
        BODY_8BIT.replace(b"\r\n", b"\n")


def test_8bit_unchanged_with_8bitmime(relay, peer_factory, mailroot):
    p = peer_factory(caps=("PIPELINING", "8BITMIME"))
    srv = relay(tab=gateway(p))
    send(srv, "rcpt@remote.test", msg_8bit(), mail_options=["BODY=8BITMIME"])
    [t] = p.wait_messages(1)
    assert "BODY=8BITMIME" in t.mail_line.upper()
    assert t.data.endswith(msg_8bit())


@pytest.mark.parametrize("pipelining", [True, False])
def test_pipelining(relay, peer_factory, mailroot, pipelining):
    caps = ("PIPELINING", "8BITMIME") if pipelining else ("8BITMIME",)
    p = peer_factory(caps=caps)
    srv = relay(tab=gateway(p))
    send(srv, "a@remote.test")
    p.wait_messages(1)
    wait_spool_empty(mailroot)
    [sess] = used(p)
    cmds = [(c.split(":")[0].split(" ")[0].upper(), k)
            for c, k in sess.commands]
    chunk = {}
    for verb, k in cmds:
        chunk.setdefault(verb, []).append(k)
    if pipelining:
        # MAIL, the RCPTs and DATA go out without waiting for replies.
        assert chunk["MAIL"][0] == chunk["RCPT"][0] == chunk["DATA"][0], \
            sess.commands
    else:
        # Every command waits for the previous reply.
        ks = [k for v, k in cmds]
        assert len(ks) == len(set(ks)), sess.commands


def test_chunking_uses_bdat(relay, peer_factory, mailroot):
    p = peer_factory(caps=("PIPELINING", "8BITMIME", "CHUNKING"))
    srv = relay(tab=gateway(p))
    data = msg("bdat", "x" * 3000 + "\r\n.dot line\r\n")
    send(srv, "rcpt@remote.test", data)
    [t] = p.wait_messages(1)
    assert t.bdat
    assert "DATA" not in used(p)[0].verbs()
    assert t.data.endswith(data)        # no dot-stuffing with BDAT
    wait_spool_empty(mailroot)


def test_size_limit_of_peer_bounces(relay, peer_factory, mailroot):
    p = peer_factory(caps=("PIPELINING", "SIZE 1000"))
    srv = relay(tab=gateway(p))
    send(srv, "rcpt@remote.test", msg("big", ("y" * 70 + "\r\n") * 72))
    [rep] = bounces(mailroot)
    check_report(rep, ["rcpt@remote.test"], status="5.3.4")
    assert "MAIL" not in [v for s in p.sessions for v in s.verbs()]
    wait_spool_empty(mailroot)
    assert frozen_with(mailroot, "rcpt@remote.test")


def test_remove_spool_errors(relay, peer_factory, mailroot):
    p = peer_factory()
    p.script("RCPT", "550 5.7.1 go away")
    srv = relay(tab={**gateway(p), "RemoveSpoolErrors": "1"})
    send(srv, "rcpt@remote.test")
    [rep] = bounces(mailroot)
    check_report(rep, ["rcpt@remote.test"], status="5.7.1", text="go away")
    wait_spool_empty(mailroot)
    assert spool(mailroot, "froz") == []


# ---- STARTTLS -------------------------------------------------------------

def test_starttls_opportunistic(relay, peer_factory, mailroot):
    p = peer_factory(caps=("PIPELINING", "STARTTLS"))
    srv = relay(tab=gateway(p))
    send(srv, "rcpt@remote.test")
    [t] = p.wait_messages(1)
    sess = p.sessions[0]
    assert sess.tls and sess.verbs()[:2] == ["EHLO", "STARTTLS"]
    assert sess.tls_version in ("TLSv1.2", "TLSv1.3")
    assert sess.starttls_injection is None
    # EHLO again after TLS, then the transaction.
    assert sess.verbs()[2] == "EHLO"
    assert len(p.sessions) == 1
    wait_spool_empty(mailroot)


def test_starttls_454_delivers_in_clear(relay, peer_factory, mailroot):
    p = peer_factory(caps=("PIPELINING", "STARTTLS"))
    p.script("STARTTLS", "454 4.7.0 TLS not available")
    srv = relay(tab=gateway(p))
    send(srv, "rcpt@remote.test")
    [t] = p.wait_messages(1)
    assert not any(s.tls for s in p.sessions)
    wait_spool_empty(mailroot)
    # RFC 3207: after a 454 the client may go on in clear on the same
    # connection.
    assert len(p.sessions) == 1, p.sessions


def test_tls_handshake_failure_retries_in_clear(relay, peer_factory,
                                                mailroot):
    p = peer_factory(caps=("PIPELINING", "STARTTLS"), tls_mode="broken")
    srv = relay(tab=gateway(p))
    send(srv, "rcpt@remote.test")
    [t] = p.wait_messages(1, timeout=10)
    assert len(p.sessions) == 2
    assert "STARTTLS" in p.sessions[0].verbs()
    assert "STARTTLS" not in p.sessions[1].verbs()
    assert not p.sessions[1].tls
    wait_spool_empty(mailroot)
    assert re.search(r"STARTTLS failed.*clear", srv.log()), srv.log()


def test_need_tls_2_without_starttls_stays_deferred(relay, peer_factory,
                                                    mailroot):
    p = peer_factory(caps=("PIPELINING",))
    srv = relay(*SLOW, smtpfwd=[("remote.test", "%s,NeedTLS=2" % p.addr)])
    send(srv, "rcpt@remote.test")
    srv.wait_log("queue: deferred id=")
    assert p.sessions and "MAIL" not in p.sessions[0].verbs()
    assert len(spool(mailroot, "rsnd")) == 1
    [slog] = spool_text(mailroot, "slog")
    assert "TLS" in slog
    assert p.messages() == []


def test_need_tls_2_with_starttls_delivers(relay, peer_factory, mailroot):
    p = peer_factory(caps=("PIPELINING", "STARTTLS"))
    srv = relay(smtpfwd=[("remote.test", "%s,NeedTLS=2" % p.addr)])
    send(srv, "rcpt@remote.test")
    p.wait_messages(1)
    assert p.sessions[0].tls
    wait_spool_empty(mailroot)


def test_need_tls_0_never_starttls(relay, peer_factory, mailroot):
    p = peer_factory(caps=("PIPELINING", "STARTTLS"))
    srv = relay(smtpfwd=[("remote.test", "%s,NeedTLS=0" % p.addr)])
    send(srv, "rcpt@remote.test")
    p.wait_messages(1)
    assert "STARTTLS" not in p.sessions[0].verbs()
    wait_spool_empty(mailroot)


# ---- AUTH -----------------------------------------------------------------

@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_client_auth(relay, peer_factory, mailroot, mech):
    p = peer_factory(host=RELAY_AUTH, caps=ALL_CAPS,
                     auth_users={"relayuser": "s3cret pass"})
    write_tab(mailroot / "userauth" / "smtp" / "auth.test.tab",
              [(mech, "relayuser", "s3cret pass")])
    srv = relay(smtpfwd=[("remote.test", "relay.auth.test:%d" % p.port)])
    send(srv, "rcpt@remote.test")
    [t] = p.wait_messages(1)
    a = p.sessions[0].auth
    assert a["mech"] == mech and a["ok"], a
    assert a["user"] == "relayuser"
    # AUTH before MAIL; the password never reaches the log.
    verbs = p.sessions[0].verbs()
    assert verbs.index("AUTH") < verbs.index("MAIL")
    assert "s3cret" not in srv.log()
    wait_spool_empty(mailroot)


def test_client_auth_rejected_defers(relay, peer_factory, mailroot):
    p = peer_factory(host=RELAY_AUTH, caps=ALL_CAPS,
                     auth_users={"relayuser": "other"})
    write_tab(mailroot / "userauth" / "smtp" / "auth.test.tab",
              [("PLAIN", "relayuser", "wrong")])
    srv = relay(*SLOW, smtpfwd=[("remote.test",
                                  "relay.auth.test:%d" % p.port)])
    send(srv, "rcpt@remote.test")
    srv.wait_log("queue: deferred id=")
    assert p.messages() == []
    assert "MAIL" not in p.sessions[0].verbs()
    assert "wrong" not in "".join(spool_text(mailroot, "slog"))
    assert bounces(mailroot, 0, timeout=0) == []


# ---- LMTP -----------------------------------------------------------------

def test_lmtp_per_recipient_replies(relay, peer_factory, mailroot):
    p = peer_factory(lmtp=True, caps=("PIPELINING", "8BITMIME", "CHUNKING",
                                        "ENHANCEDSTATUSCODES"))
    p.script("DOT", "550 5.1.1 <bad@remote.test> unknown", match="bad@")
    srv = relay(smtpfwd=[("remote.test", "%s,LMTP" % p.addr)])
    send(srv, ["good@remote.test", "bad@remote.test"])
    [rep] = bounces(mailroot)
    check_report(rep, ["bad@remote.test"], status="5.1.1",
                 not_failed=["good@remote.test"])
    [t] = p.wait_messages(1)
    assert sorted(t.rcpts) == ["bad@remote.test", "good@remote.test"], \
        p.sessions
    assert t.delivered == ["good@remote.test"]
    assert not t.bdat
    verbs = p.sessions[0].verbs()
    assert verbs[0] == "LHLO" and "EHLO" not in verbs
    wait_spool_empty(mailroot)
    time.sleep(1.5)
    assert len(p.txns()) == 1


# ---- routing tables -------------------------------------------------------

def test_smtpgw_tab_wins_over_default_gateways(relay, peer_factory,
                                               mailroot):
    gw = peer_factory(host="127.0.0.7")
    default = peer_factory(host="127.0.0.8")
    fwd = peer_factory(host="127.0.0.9")
    srv = relay(tab=gateway(default),
                smtpgw=[("remote.test", "@%s" % gw.addr)],
                smtpfwd=[("remote.test", fwd.addr),
                         ("*.fwd.test", fwd.addr)])
    send(srv, "a@remote.test")
    send(srv, "b@x.fwd.test")
    send(srv, "c@other.test")
    gw.wait_messages(1)
    fwd.wait_messages(1)
    default.wait_messages(1)
    assert gw.messages()[0].rcpts == ["a@remote.test"]
    assert fwd.messages()[0].rcpts == ["b@x.fwd.test"]
    assert default.messages()[0].rcpts == ["c@other.test"]
    wait_spool_empty(mailroot)


def test_smtpfwd_list_falls_back(relay, peer_factory, mailroot):
    down = peer_factory(host="127.0.0.7", start=False)
    up = peer_factory(host="127.0.0.8")
    srv = relay(smtpfwd=[("remote.test", "%s;%s" % (down.addr, up.addr))])
    send(srv, "a@remote.test")
    up.wait_messages(1)
    wait_spool_empty(mailroot)


def test_smtpfwd_outbind(relay, peer_factory, mailroot):
    p = peer_factory()
    srv = relay(smtpfwd=[("remote.test", "%s,OutBind=127.0.0.9" % p.addr)])
    send(srv, "a@remote.test")
    p.wait_messages(1)
    assert p.sessions[0].remote[0] == "127.0.0.9"


def test_smtpfwd_port_option(relay, peer_factory, mailroot):
    p = peer_factory()
    srv = relay(smtpfwd=[("remote.test", "%s,Port=%d" % (p.host, p.port))])
    send(srv, "a@remote.test")
    p.wait_messages(1)
    wait_spool_empty(mailroot)


# ---- MX -------------------------------------------------------------------

@pytest.fixture
def mx_port():
    return free_port((MX1, MX2, IMPLICIT))


def test_mx_lowest_preference_first(relay, peer_factory, mailroot, mx_port):
    p1 = peer_factory(host=MX1, port=mx_port)
    p2 = peer_factory(host=MX2, port=mx_port)
    srv = relay(tab={"SmtpMXPort": str(mx_port)})
    send(srv, "user@dom.test")
    p1.wait_messages(1)
    wait_spool_empty(mailroot)
    assert p2.sessions == []
    line = [l for l in srv.log().splitlines() if "queue: sent" in l][0]
    assert "mx1.dom.test" in line and "%s]:%d" % (MX1, mx_port) in line


def test_mx_falls_back_to_next_preference(relay, peer_factory, mailroot,
                                          mx_port):
    p2 = peer_factory(host=MX2, port=mx_port)
    srv = relay(tab={"SmtpMXPort": str(mx_port)})
    send(srv, "user@dom.test")
    p2.wait_messages(1)
    wait_spool_empty(mailroot)
    assert "deferred" not in srv.log()


def self_mx_relay(relay, mailroot):
    """A sending server whose MX port is its own SMTP port, so MX hosts
    at 127.0.0.1 are itself (RFC 5321 5.1)."""
    srv = relay()
    start = len(srv.log())
    set_server_tab(mailroot, {"SmtpMXPort": str(srv.ports["smtp"])})
    srv.wait_log("configuration reloaded", start=start)
    return srv


def test_mx_self_best_defers_without_loop(relay, peer_factory, mailroot):
    """This server is the best MX: it and the worse MX are dropped; the
    mail waits, it is never sent to itself or to the worse MX."""
    srv = self_mx_relay(relay, mailroot)
    p2 = peer_factory(host=MX2, port=srv.ports["smtp"])
    send(srv, "user@best.self.test")
    srv.wait_log("I am its best MX")
    assert spool(mailroot, "rsnd")
    assert not tried(p2)
    assert srv.log().count("smtp: connect peer=") == 1     # the test's


def test_mx_self_backup_uses_better_mx(relay, peer_factory, mailroot):
    """This server is a worse MX: the better one gets the mail; when it is
    down the mail waits instead of looping to this server."""
    srv = self_mx_relay(relay, mailroot)
    p1 = peer_factory(host=MX1, port=srv.ports["smtp"])
    send(srv, "user@backup.self.test")
    p1.wait_messages(1)
    wait_spool_empty(mailroot)
    p1.stop()
    send(srv, "again@backup.self.test")
    srv.wait_log("is this server")
    srv.wait_log("queue: deferred id=")
    assert srv.log().count("smtp: connect peer=") == 2     # the test's


def test_mx_through_cname(relay, peer_factory, mailroot, mx_port):
    """A recipient domain that is a CNAME gets the MX of its target."""
    p1 = peer_factory(host=MX1, port=mx_port)
    srv = relay(tab={"SmtpMXPort": str(mx_port)})
    send(srv, "user@alias.test")
    [t] = p1.wait_messages(1)
    assert t.rcpts == ["user@alias.test"]
    wait_spool_empty(mailroot)


def test_implicit_mx(relay, peer_factory, mailroot, mx_port):
    p = peer_factory(host=IMPLICIT, port=mx_port)
    srv = relay(tab={"SmtpMXPort": str(mx_port)})
    send(srv, "user@implicit.test")
    [t] = p.wait_messages(1)
    assert t.rcpts == ["user@implicit.test"]
    wait_spool_empty(mailroot)


def test_null_mx_bounces(relay, mailroot, mx_port):
    srv = relay(tab={"SmtpMXPort": str(mx_port)})
    send(srv, "user@nullmx.test")
    [rep] = bounces(mailroot)
    check_report(rep, ["user@nullmx.test"], status="5.1.10")
    wait_spool_empty(mailroot)
    assert frozen_with(mailroot, "user@nullmx.test")
    assert "deferred" not in srv.log()


def test_nxdomain_bounces(relay, mailroot, mx_port):
    srv = relay(tab={"SmtpMXPort": str(mx_port)})
    send(srv, "user@nx.test")
    [rep] = bounces(mailroot)
    check_report(rep, ["user@nx.test"], status="5.1.2")
    wait_spool_empty(mailroot)
    srv.wait_log("queue: failed id=")


def test_all_mx_down_deferred_then_retried(relay, peer_factory, mailroot,
                                           mx_port):
    srv = relay("-Qt", "2", "-Qi", "0", tab={"SmtpMXPort": str(mx_port)})
    send(srv, "user@dom.test")
    srv.wait_log("queue: deferred id=")
    assert len(spool(mailroot, "rsnd")) == 1
    p1 = peer_factory(host=MX1, port=mx_port)
    p1.wait_messages(1, timeout=8)
    wait_spool_empty(mailroot)
    assert spool(mailroot, "slog") == []


def test_dns_server_down_defers(relay, mailroot, mx_port):
    dead = free_port()
    srv = relay(*SLOW, tab={"SmtpMXPort": str(mx_port),
                            "SmartDNSHost": "127.0.0.1:%d:udp" % dead})
    send(srv, "user@dom.test")
    srv.wait_log("queue: deferred id=", timeout=30)
    assert len(spool(mailroot, "rsnd")) == 1
    assert bounces(mailroot, 0, timeout=0) == []


# ---- retry schedule and expiry --------------------------------------------

def test_retry_delays_grow(relay, peer_factory, mailroot):
    # -Qt 1 -Qi 1: tries at 0, 1, 1 + 2 = 3 s; expired after the third.
    p = peer_factory()
    p.script("MAIL", "451 4.3.0 later")
    srv = relay("-Qt", "1", "-Qi", "1", "-Qr", "3",
                tab={**gateway(p), "QueueLifetime": "0"})
    send(srv, "rcpt@remote.test")
    [rep] = bounces(mailroot, timeout=12)
    starts = [s.start for s in tried(p)]
    assert len(starts) == 3, p.sessions
    d1, d2 = starts[1] - starts[0], starts[2] - starts[1]
    assert 0.8 <= d1 <= 2.6, (d1, d2)
    assert 1.8 <= d2 <= 3.6, (d1, d2)
    assert d2 > d1


def test_expiry_after_max_tries(relay, peer_factory, mailroot):
    p = peer_factory()
    p.script("MAIL", "451 4.3.0 always later")
    srv = relay("-Qt", "1", "-Qi", "0", "-Qr", "2",
                tab={**gateway(p), "QueueLifetime": "0"})
    send(srv, "rcpt@remote.test")
    [rep] = bounces(mailroot, timeout=10)
    check_report(rep, ["rcpt@remote.test"],
                 text="maximum number of delivery attempts")
    assert "always later" in rep.as_string()
    wait_spool_empty(mailroot)
    assert frozen_with(mailroot, "rcpt@remote.test")
    assert len(tried(p)) == 2
    srv.wait_log("queue: expired id=")
    time.sleep(1.5)
    assert len(tried(p)) == 2


def test_notify_try_pattern_delay_notice(relay, peer_factory, mailroot):
    """NotifyTryPattern "2": one RFC 3464 'delayed' warning after the
    second failed try, with the delivery log for TempErrorsAdmin; the
    message is still delivered afterwards."""
    p = peer_factory()
    p.script("MAIL", "451 4.3.0 later", times=2)
    srv = relay("-Qt", "1", "-Qi", "0",
                tab={**gateway(p), "NotifyTryPattern": "2",
                     "TempErrorsAdmin": "alice@example.test"})
    send(srv, "rcpt@remote.test")
    p.wait_messages(1, timeout=15)
    [rep] = bounces(mailroot)
    whole = check_report(rep, ["rcpt@remote.test"], status="4.3.0")
    assert "Action: delayed" in whole
    assert rep["Subject"].startswith("Delayed mail")
    assert "[PeekTime]" in whole        # the admin copy has the slog
    wait_spool_empty(mailroot)


def send_dsn(srv, rcpt):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as c:
        c.ehlo("client.test")
        assert c.sendmail(ALICE, [rcpt], msg(to=rcpt),
                          mail_options=["RET=HDRS", "ENVID=job+2D42"],
                          rcpt_options=["NOTIFY=SUCCESS,FAILURE",
                                        "ORCPT=rfc822;%s" % rcpt]) == {}


@pytest.mark.parametrize("offered", [True, False])
def test_dsn_parameters_passed_on(relay, peer_factory, mailroot, offered):
    """RET, ENVID, NOTIFY and ORCPT go to a next hop that offers DSN, and
    only to one that does."""
    caps = ("PIPELINING", "8BITMIME") + (("DSN",) if offered else ())
    p = peer_factory(caps=caps)
    srv = relay(tab=gateway(p, ",NeedTLS=0"))
    send_dsn(srv, "rcpt@remote.test")
    [t] = p.wait_messages(1)
    wait_spool_empty(mailroot)
    [rcpt_line] = t.rcpt_lines
    if offered:
        assert "RET=HDRS" in t.mail_params
        assert "ENVID=job+2D42" in t.mail_params
        assert "NOTIFY=SUCCESS,FAILURE" in rcpt_line
        assert "ORCPT=rfc822;rcpt@remote.test" in rcpt_line
    else:
        assert "RET=" not in t.mail_params and "ENVID" not in t.mail_params
        assert "NOTIFY" not in rcpt_line and "ORCPT" not in rcpt_line


class AioHandler:
    """aiosmtpd handler keeping every envelope."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 2.0.0 OK"


@pytest.fixture
def aiopeer():
    """aiosmtpd_peer(smtputf8) -> (handler, host, port), a real aiosmtpd
    server on 127.0.0.6."""
    from aiosmtpd.controller import Controller
    made = []

    def make(smtputf8):
        handler = AioHandler()
        port = free_port(("127.0.0.6",))
        c = Controller(handler, hostname="127.0.0.6", port=port,
                       enable_SMTPUTF8=smtputf8)
        c.start()
        made.append(c)
        return handler, "127.0.0.6", port

    yield make
    for c in made:
        c.stop()


def test_aiosmtpd_peer_one_transaction(relay, aiopeer, mailroot):
    """aiosmtpd as the next hop: one transaction for two recipients."""
    h, host, port = aiopeer(True)
    srv = relay(tab={"DefaultSMTPGateways": "%s:%d,NeedTLS=0" %
                     (host, port)})
    send(srv, ["a@remote.test", "b@remote.test"])
    wait_for(lambda: h.envelopes, 10, what="aiosmtpd got the message")
    wait_spool_empty(mailroot)
    [env] = h.envelopes
    assert env.mail_from == ALICE
    assert sorted(env.rcpt_tos) == ["a@remote.test", "b@remote.test"]
    assert b"Subject: test" in env.original_content


@pytest.mark.parametrize("offered", [True, False])
def test_smtputf8_address(relay, aiopeer, mailroot, offered):
    """A UTF-8 recipient goes out with SMTPUTF8 when the next hop offers
    it; otherwise the sender gets a 5.6.7 report."""
    h, host, port = aiopeer(offered)
    srv = relay(tab={"DefaultSMTPGateways": "%s:%d,NeedTLS=0" %
                     (host, port)})
    rcpt = "jos\u00e9@remote.test"
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as c:
        c.ehlo("client.test")
        assert c.sendmail(ALICE, [rcpt], "Subject: utf8\r\n\r\nhi\r\n",
                          mail_options=["SMTPUTF8"]) == {}
    if offered:
        wait_for(lambda: h.envelopes, 10, what="aiosmtpd got the message")
        assert h.envelopes[0].rcpt_tos == [rcpt]
        assert "SMTPUTF8" in h.envelopes[0].mail_options
    else:
        [rep] = bounces(mailroot)
        check_report(rep, [], status="5.6.7")
        assert not h.envelopes
    wait_spool_empty(mailroot)


# ---- ETRN, flush, connection reuse ----------------------------------------

def etrn(srv, domain):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        c.ehlo("client.test")
        return c.docmd("ETRN", domain)


def test_etrn_flushes_deferred_mail(relay, peer_factory, mailroot):
    p = peer_factory(start=False)
    srv = relay(*SLOW, tab={**gateway(p), "AllowSmtpETRN": "1"})
    send(srv, "rcpt@remote.test")
    srv.wait_log("queue: deferred id=")
    p.start()
    code, text = etrn(srv, "remote.test")
    assert code == 250, text
    assert b"Queueing for 'remote.test' has been started" in text
    p.wait_messages(1, timeout=5)
    wait_spool_empty(mailroot)


def test_etrn_refused_without_allow(relay, peer_factory, mailroot):
    p = peer_factory(start=False)
    srv = relay(*SLOW, tab=gateway(p))
    code, _ = etrn(srv, "remote.test")
    assert code == 501


def test_queue_flush_command(relay, peer_factory, mailroot):
    p = peer_factory(start=False)
    srv = relay(*SLOW, tab=gateway(p))
    send(srv, "rcpt@remote.test")
    srv.wait_log("queue: deferred id=")
    p.start()
    r = subprocess.run([POSTROOM, "queue", "-Ms", str(mailroot), "flush",
                        "remote.test"], capture_output=True, text=True,
                       timeout=30)
    if r.returncode == 2 and "flush" not in r.stderr + r.stdout:
        pytest.skip("postroom queue flush is not available")
    assert r.returncode == 0, r.stdout + r.stderr
    p.wait_messages(1, timeout=5)
    wait_spool_empty(mailroot)


def test_connection_reuse(relay, peer_factory, mailroot):
    p = peer_factory(start=False)
    srv = relay(*SLOW, tab={**gateway(p), "AllowSmtpETRN": "1"})
    for i in range(5):
        send(srv, "rcpt%d@remote.test" % i, msg("reuse %d" % i))
    wait_log_count(srv, "queue: deferred id=", 5)
    p.start()
    assert etrn(srv, "remote.test")[0] == 250
    p.wait_messages(5, timeout=10)
    wait_spool_empty(mailroot)
    carrying = [s for s in p.sessions if s.txns]
    assert len(carrying) <= 3, p.sessions
    assert sorted(r for r, _ in p.delivered()) == \
        ["rcpt%d@remote.test" % i for i in range(5)]


# ---- crash recovery --------------------------------------------------------

def kill(srv):
    srv.signal(signal.SIGKILL)
    srv.proc.wait(10)
    srv.expected_rc = -signal.SIGKILL


def test_recovery_after_sigkill(relay, peer_factory, mailroot, start_server):
    slow = peer_factory(host="127.0.0.7")
    slow.script("MAIL", None, delay=30, times=1)
    down = peer_factory(host="127.0.0.8", start=False)
    fwd = [("slow.test", slow.addr), ("down.test", down.addr)]
    srv = relay(smtpfwd=fwd)
    send(srv, "a@down.test", msg("down a"))
    send(srv, "b@down.test", msg("down b"))
    wait_log_count(srv, "queue: deferred id=", 2)
    send(srv, "c@slow.test", msg("slow c"))
    wait_for(lambda: tried(slow),
             10, what="MAIL at the slow peer")
    kill(srv)
    assert len(spool(mailroot, "mess")) == 1    # in an attempt when killed
    assert len(spool(mailroot, "rsnd")) >= 1
    down.start()
    srv2 = start_server(mailroot, *FAST)
    slow.wait_messages(1, timeout=10)
    down.wait_messages(2, timeout=10)
    wait_spool_empty(mailroot)
    time.sleep(1.5)
    assert sorted(r for r, _ in down.delivered()) == ["a@down.test",
                                                       "b@down.test"]
    assert [r for r, _ in slow.delivered()] == ["c@slow.test"]
    assert srv2.proc.poll() is None


# ---- real peers ------------------------------------------------------------

def test_smarthost_is_a_second_postroom(relay, start_server, mailroot,
                                        tmp_path):
    recv_root = init_mailroot(tmp_path / "Recv", domain="remote.test",
                              users={"carol": "pw"})
    piddir = tmp_path / "recv-pid"
    piddir.mkdir()
    receiver = start_server(recv_root, env={"XMAIL_PID_DIR": str(piddir)})
    piddir2 = tmp_path / "send-pid"
    piddir2.mkdir()
    srv = relay(tab={"DefaultSMTPGateways": "127.0.0.1:%d" %
                     receiver.ports["smtp"]},
                env={"XMAIL_PID_DIR": str(piddir2)})
    send(srv, "carol@remote.test", msg("via smarthost",
                                       to="carol@remote.test"))
    new = recv_root / "domains" / "remote.test" / "carol" / "Maildir" / "new"
    wait_for(lambda: new.is_dir() and list(new.iterdir()), 10,
             what="the message in carol's Maildir")
    [f] = list(new.iterdir())
    text = f.read_text()
    head = text.split("\n\n", 1)[0]
    received = re.findall(r"(?m)^Received: ", head)
    assert len(received) >= 2, head
    assert "Subject: via smarthost" in head
    assert "Return-Path: <alice@example.test>" in head
    wait_spool_empty(mailroot)


@pytest.mark.skipif(smtp_sink_path() is None, reason="no smtp-sink")
def test_smtp_sink_twenty_messages(relay, mailroot, tmp_path):
    sink = SmtpSink(tmp_path).start()
    try:
        srv = relay(tab={"DefaultSMTPGateways": "%s:%d" % (sink.host,
                                                           sink.port)})
        with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as c:
            c.ehlo("client.test")
            for i in range(20):
                c.sendmail(ALICE, ["r%d@sink.test" % i], msg("sink %d" % i))
        wait_log_count(srv, "queue: sent id=", 20, timeout=20)
        wait_spool_empty(mailroot)
        wait_for(lambda: len(sink.dumps()) >= 20, 5, what="20 dumps")
        assert "deferred" not in srv.log()
    finally:
        sink.stop()

