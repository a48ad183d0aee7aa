"""`postroom send`: report e-mail through any SMTP server (issue 8).

The command runs against aiosmtpd on loopback (clear text, STARTTLS,
implicit TLS, AUTH PLAIN/LOGIN/CRAM-MD5 required or not), against the
scripted SmtpPeer of peers.py (4xx/5xx at each step, a server that never
answers, one that drops the connection) and against the postroom server
itself (the submission port with STARTTLS and AUTH, SMTPS).  Every run is
a sanitizer build: a leak or UBSan report fails the test.
"""
import base64
import email
import email.policy
import hashlib
import hmac
import os
import random
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from conftest import POSTROOM, wait_messages
from peers import DROP, Blackhole, SmtpPeer, free_port

USER = "reporter@example.test"
PASSWORD = "Pa55-w0rd!sekret"
FROM = "backup@example.test"
TO = "ops@example.test"
SANITIZER = ("AddressSanitizer", "LeakSanitizer", "runtime error:")

# aiosmtpd warns about AUTH without STARTTLS: implicit TLS and the LAN
# relay of test_password_never_before_tls are meant that way.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS")


# ---------------------------------------------------------------- helpers

def send_env(home, **extra):
    """An environment without the caller's POSTROOM_SMTP_* settings,
    with its own HOME (no config file unless a test writes one)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("POSTROOM_SMTP_") and
           k not in ("XDG_CONFIG_HOME", "LC_ALL", "LC_CTYPE")}
    env["HOME"] = str(home)
    env["LANG"] = "C.UTF-8"
    env.update(extra)
    return env


class Result:
    def __init__(self, p):
        self.rc = p.returncode
        self.out = p.stdout.decode("utf-8", "replace")
        self.err = p.stderr.decode("utf-8", "replace")
        for mark in SANITIZER:
            assert mark not in self.err, self.err

    def __repr__(self):
        return "<rc=%d out=%r err=%r>" % (self.rc, self.out, self.err)


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def psend(home):
    """psend(*args, env=None, input=b"") -> Result of `postroom send`."""
    def run(*args, env=None, input=b"", extra_env=None):
        e = env if env is not None else send_env(home)
        e.update(extra_env or {})
        if isinstance(input, str):
            input = input.encode()
        p = subprocess.run([POSTROOM, "send", *args], capture_output=True,
                           input=input, env=e, timeout=120)
        return Result(p)
    return run


def srv_args(port, sec="none", auth=None, host="127.0.0.1"):
    args = ["--smtp-srv", host, "--smtp-port", str(port), "--smtp-sec", sec]
    if auth is not None:
        args += ["--smtp-auth", auth]
    return args


def msg_args(to=TO, title="Nightly backup", sender=FROM):
    return ["--mail-from", sender, "--mail-to", to, "--title", title]


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def b64(s):
    return base64.b64encode(s.encode()).decode()


def secret_forms(user, password):
    """Every way a password could leak into a transcript."""
    return [password, b64(password), b64("\0%s\0%s" % (user, password)),
            b64("%s\0%s\0%s" % ("", user, password))]


# ---------------------------------------------------------------- certificates

def openssl_cert(directory, name, san):
    key, cert = directory / (name + ".key"), directory / (name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=" + name, "-addext",
                    "subjectAltName=" + san],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """`local`: self-signed for localhost and 127.0.0.1 (usable as its own
    CA with --ca-file); `other`: for other.test only (name mismatch)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    d = tmp_path_factory.mktemp("certs")
    return {"local": openssl_cert(d, "localhost",
                                  "DNS:localhost,IP:127.0.0.1"),
            "other": openssl_cert(d, "other.test", "DNS:other.test")}


def server_ctx(pair):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pair[0]), str(pair[1]))
    return ctx


# ---------------------------------------------------------------- aiosmtpd

ACCOUNTS = {USER: PASSWORD}


class Sink:
    """aiosmtpd handler: keeps every envelope and every login."""

    def __init__(self):
        self.envelopes = []
        self.logins = []                # (mechanism, user, ok)

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 2.0.0 OK queued"

    def message(self):
        [env] = self.envelopes
        return parse(env.original_content)


def _authenticator(sink):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and \
            ACCOUNTS.get(data.login.decode()) == data.password.decode()
        sink.logins.append((mechanism, data.login.decode(), ok))
        return AuthResult(success=ok, handled=False)
    return check


def _cram_smtp_class():
    from aiosmtpd.smtp import MISSING, SMTP, AuthResult

    class CramSMTP(SMTP):
        """aiosmtpd with AUTH CRAM-MD5 (RFC 2195) as well."""

        async def auth_CRAM__MD5(self, _, args):
            chal = "<%d.%d@aio.test>" % (random.getrandbits(31),
                                         int(time.time()))
            resp = await self.challenge_auth(chal)
            if resp is MISSING:
                return AuthResult(success=False, handled=False)
            user, _, digest = resp.decode().rpartition(" ")
            pw = ACCOUNTS.get(user)
            ok = pw is not None and hmac.compare_digest(
                digest, hmac.new(pw.encode(), chal.encode(),
                                 hashlib.md5).hexdigest())
            self.event_handler.logins.append(("CRAM-MD5", user, ok))
            return AuthResult(success=ok, handled=False)
    return CramSMTP


class Aio:
    """One aiosmtpd server on 127.0.0.1: tls None (clear text), "starttls"
    or "ssl" (implicit); auth None (no AUTH), "optional" or "required"."""

    def __init__(self, certs, tls=None, auth=None, cert="local",
                 exclude=(), auth_in_clear=False, smtputf8=True):
        from aiosmtpd.controller import Controller
        self.sink = Sink()
        self.port = free_port()
        kw = {"enable_SMTPUTF8": smtputf8}
        if tls is not None:
            ctx = server_ctx(certs[cert])
            if tls == "starttls":
                kw["tls_context"] = ctx
                kw["require_starttls"] = True
            else:
                kw["ssl_context"] = ctx
        if auth is not None:
            kw["authenticator"] = _authenticator(self.sink)
            kw["auth_required"] = auth == "required"
            # aiosmtpd counts only STARTTLS as TLS: implicit TLS is too.
            kw["auth_require_tls"] = not auth_in_clear and tls != "ssl"
            kw["auth_exclude_mechanism"] = list(exclude)
        else:
            kw["auth_exclude_mechanism"] = ["CRAM-MD5", "LOGIN", "PLAIN"]
        cls = _cram_smtp_class()

        class Ctl(Controller):
            def factory(self):
                return cls(self.handler, **self.SMTP_kwargs)

        self.ctl = Ctl(self.sink, hostname="127.0.0.1", port=self.port, **kw)
        self.ctl.start()

    @property
    def envelopes(self):
        return self.sink.envelopes

    def stop(self):
        self.ctl.stop()


@pytest.fixture
def aio(certs):
    made = []

    def make(**kw):
        a = Aio(certs, **kw)
        made.append(a)
        return a
    yield make
    for a in made:
        a.stop()


@pytest.fixture
def peer(tmp_path):
    made = []

    def make(**kw):
        kw.setdefault("certdir", str(tmp_path / "peer-certs"))
        p = SmtpPeer(**kw).start()
        made.append(p)
        return p
    yield make
    for p in made:
        p.stop()


# ================================================================ delivery

def test_report_delivered_with_both_parts(aio, psend):
    """A report in clear text without login: one transaction, silent on
    success, multipart/alternative with the same facts in both parts."""
    a = aio()
    r = psend(*srv_args(a.port), *msg_args(), "--status", "success",
              "--field", "Job=db1", "--field", "Duration=42 s",
              "--body", "All 12 databases were saved.")
    assert r.rc == 0, r
    assert r.out == "" and r.err == ""
    [env] = a.envelopes
    assert env.mail_from == FROM and env.rcpt_tos == [TO]
    m = a.sink.message()
    assert m["Subject"] == "[postroom] Nightly backup"
    assert m["From"] == FROM and m["To"] == TO
    assert m["Date"] and m["Message-ID"] and m["MIME-Version"] == "1.0"
    assert m["Auto-Submitted"] == "auto-generated"
    assert m.get_content_type() == "multipart/alternative"
    text = m.get_body(("plain",)).get_content()
    html = m.get_body(("html",)).get_content()
    for part in (text, html):
        assert "All 12 databases were saved." in part
        assert "db1" in part and "42 s" in part and "Duration" in part
    assert "Nightly backup" in html
    # Lines within RFC 5322 2.1.1.
    assert all(len(line) <= 998 for line in env.original_content.split(
        b"\r\n"))


def test_body_from_stdin_and_utf8_everywhere(aio, psend, tmp_path):
    """Summary from standard input; a UTF-8 title, field keys and values
    (RFC 2047 subject); attachments as files, parsed back intact."""
    a = aio()
    log = tmp_path / "job.log"
    log.write_text("line 1\nline 2 \u00e9t\u00e9\n")
    blob = tmp_path / "dump.bin"
    blob.write_bytes(bytes(range(256)) * 40)
    r = psend(*srv_args(a.port), *msg_args(
        title="Sauvegarde r\u00e9ussie \u2713"), "--status", "warning",
              "--field", "Gr\u00f6\u00dfe=1,2 Go", "--attach", str(log),
              "--attach", str(blob),
              input="R\u00e9sum\u00e9: 3 warnings\n".encode())
    assert r.rc == 0, r
    m = a.sink.message()
    assert m["Subject"] == "[postroom] Sauvegarde r\u00e9ussie \u2713"
    raw_subject = [l for l in a.envelopes[0].original_content.split(b"\r\n")
                   if l.startswith(b"Subject:")][0]
    assert b"=?" in raw_subject           # encoded word, not raw UTF-8
    assert m.get_content_type() == "multipart/mixed"
    text = m.get_body(("plain",)).get_content()
    html = m.get_body(("html",)).get_content()
    for part in (text, html):
        assert "R\u00e9sum\u00e9: 3 warnings" in part
        assert "Gr\u00f6\u00dfe" in part and "1,2 Go" in part
    att = {p.get_filename(): p for p in m.iter_attachments()}
    assert set(att) == {"job.log", "dump.bin"}
    assert att["job.log"].get_content_type() == "text/plain"
    assert att["job.log"].get_payload(decode=True) == log.read_bytes()
    assert att["dump.bin"].get_payload(decode=True) == blob.read_bytes()


def test_status_colours(aio, psend):
    """Each status gives its own colour bar in the HTML part."""
    a = aio()
    colours = {}
    for st in ("success", "failure", "warning", "info"):
        r = psend(*srv_args(a.port), *msg_args(title=st), "--status", st,
                  "--body", "x")
        assert r.rc == 0, r
        html = parse(a.envelopes[-1].original_content).get_body(
            ("html",)).get_content().lower()
        colours[st] = html
    for st, html in colours.items():
        others = [o for o in colours if o != st]
        assert st in html
        assert all(colours[o] != html for o in others)
    r = psend(*srv_args(a.port), *msg_args(), "--status", "great")
    assert r.rc == 2 and "success, failure, warning or info" in r.err


def test_stdin_latin1_and_escapes_kept_readable(aio, psend):
    """A job's output with Latin-1 bytes and terminal escapes still
    becomes a valid UTF-8 report (replacement characters)."""
    a = aio()
    r = psend(*srv_args(a.port), *msg_args(),
              input=b"caf\xe9 \x1b[31mred\x1b[0m nul\x00byte done\n")
    assert r.rc == 0, r
    text = a.sink.message().get_body(("plain",)).get_content()
    assert "caf\ufffd" in text and "\ufffd[31mred" in text
    assert "nul\ufffdbyte done" in text


def test_long_stdin_keeps_the_end(aio, psend):
    """Only the last MiB of standard input is kept, from a line start,
    with a note; the whole input is read (the writer never gets EPIPE)."""
    a = aio()
    lines = b"".join(b"line %07d of the job output\n" % i
                     for i in range(80000))
    r = psend(*srv_args(a.port), *msg_args(), input=lines + b"FINAL LINE\n")
    assert r.rc == 0, r
    text = a.sink.message().get_body(("plain",)).get_content()
    assert "FINAL LINE" in text
    assert "line 0000000 " not in text
    assert "are left out: only the last MiB is kept" in text


def test_template(aio, psend, tmp_path):
    """--template: placeholders replaced with escaped values."""
    a = aio()
    t = tmp_path / "t.html"
    t.write_text("<html><body><h1 style='color:{{status_color}}'>"
                 "{{app_name}}: {{title}}</h1><p>{{summary}}</p>"
                 "<table>{{fields}}</table><i>{{hostname}}</i>"
                 "</body></html>")
    r = psend(*srv_args(a.port), *msg_args(title="A <b>bold</b> title"),
              "--template", str(t), "--field", "K=v&w", "--body", "1 < 2",
              "--app-name", "Backups")
    assert r.rc == 0, r
    m = a.sink.message()
    assert m["Subject"] == "[Backups] A <b>bold</b> title"
    html = m.get_body(("html",)).get_content()
    assert "Backups: A &lt;b&gt;bold&lt;/b&gt; title" in html
    assert "1 &lt; 2" in html and "v&amp;w" in html
    assert "{{" not in html
    r = psend(*srv_args(a.port), *msg_args(), "--template",
              str(tmp_path / "missing.html"))
    assert r.rc == 2 and "cannot read template" in r.err


def test_hostile_fields_are_escaped(aio, psend):
    """Field keys and values, title and summary are HTML-escaped."""
    a = aio()
    r = psend(*srv_args(a.port), *msg_args(title="<img src=x onerror=1>"),
              "--field", "<script>alert(1)</script>=\"><b>x</b>&amp;",
              "--body", "<iframe src=evil>")
    assert r.rc == 0, r
    html = a.sink.message().get_body(("html",)).get_content()
    for bad in ("<script", "<img", "<iframe", "\"><b>"):
        assert bad not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;iframe src=evil&gt;" in html
    assert "&amp;amp;" in html


@pytest.mark.parametrize("opt,value", [
    ("--title", "Hi\r\nBcc: victim@evil.test"),
    ("--title", "Hi\nX-Injected: 1"),
    ("--app-name", "app\r\nBcc: victim@evil.test"),
    ("--mail-from", "a@example.test\r\nBcc: victim@evil.test"),
])
def test_header_injection_refused(aio, psend, opt, value):
    a = aio()
    args = [*srv_args(a.port), *msg_args(), "--body", "x", opt, value]
    r = psend(*args)
    assert r.rc == 2, r
    assert "injection" in r.err or "not an e-mail address" in r.err
    assert a.envelopes == []


def test_header_injection_from_environment_refused(aio, psend, home):
    a = aio()
    r = psend(*srv_args(a.port), *msg_args(), env=send_env(
        home, POSTROOM_SMTP_APP_NAME="x\nBcc: v@evil.test"))
    assert r.rc == 2 and "$POSTROOM_SMTP_APP_NAME" in r.err, r
    assert a.envelopes == []


def test_attachment_limits(aio, psend, tmp_path):
    a = aio()
    big = tmp_path / "big.log"
    with open(big, "wb") as f:
        f.truncate(10 * 1024 * 1024 + 1)
    r = psend(*srv_args(a.port), *msg_args(), "--attach", str(big))
    assert r.rc == 2 and "larger than 10 MiB" in r.err and "hint:" in r.err
    r = psend(*srv_args(a.port), *msg_args(), "--attach",
              str(tmp_path / "none.log"))
    assert r.rc == 2 and "cannot read attachment" in r.err
    assert "No such file" in r.err
    assert a.envelopes == []
    # Exactly at the limit is fine.
    with open(big, "wb") as f:
        f.truncate(10 * 1024 * 1024)
    r = psend(*srv_args(a.port), *msg_args(), "--attach", str(big))
    assert r.rc == 0, r
    [att] = list(a.sink.message().iter_attachments())
    assert len(att.get_payload(decode=True)) == 10 * 1024 * 1024


# ================================================================ recipients

def test_recipients_checked_and_skipped(aio, psend):
    """Invalid addresses are reported and skipped (XSIBackup); duplicates
    are dropped; all valid ones are in To: (the default mode)."""
    a = aio()
    r = psend(*srv_args(a.port), *msg_args(
        to="one@example.test, bad@@x,<two@example.test>,,ONE@example.test,"
           "no-at-sign"))
    assert r.rc == 0, r
    assert "skipping invalid recipient 'bad@@x'" in r.err
    assert "skipping invalid recipient 'no-at-sign'" in r.err
    [env] = a.envelopes
    assert env.rcpt_tos == ["one@example.test", "two@example.test"]
    to = a.sink.message()["To"]
    assert "one@example.test" in to and "two@example.test" in to


def test_recipients_strict(aio, psend):
    a = aio()
    r = psend(*srv_args(a.port), *msg_args(to="one@example.test,bad@@x"),
              "--strict")
    assert r.rc == 2 and "invalid recipient 'bad@@x'" in r.err
    r = psend(*srv_args(a.port), *msg_args(to="bad@@x, ,worse"))
    assert r.rc == 2 and "no valid recipient" in r.err
    r = psend(*srv_args(a.port), "--mail-from", FROM, "--title", "x")
    assert r.rc == 2 and "no recipient" in r.err
    assert a.envelopes == []


def test_to_mode_first(aio, psend):
    """--to-mode first: the first valid address in To:, the others only in
    the envelope (XSIBackup)."""
    a = aio()
    r = psend(*srv_args(a.port), *msg_args(
        to="bad@@x,one@example.test,two@example.test"), "--to-mode",
              "first", "--mail-to", "three@example.test")
    assert r.rc == 0, r
    [env] = a.envelopes
    assert env.rcpt_tos == ["one@example.test", "two@example.test",
                            "three@example.test"]
    m = a.sink.message()
    assert m["To"] == "one@example.test"
    assert b"two@example.test" not in env.original_content
    r = psend(*srv_args(a.port), *msg_args(), "--to-mode", "some")
    assert r.rc == 2 and "all or first" in r.err


def test_utf8_recipient_needs_smtputf8(aio, psend):
    a = aio()
    rcpt = "jos\u00e9@example.test"
    r = psend(*srv_args(a.port), *msg_args(to=rcpt))
    assert r.rc == 0, r
    assert a.envelopes[0].rcpt_tos == [rcpt]
    assert "SMTPUTF8" in a.envelopes[0].mail_options
    b = aio(smtputf8=False)
    r = psend(*srv_args(b.port), *msg_args(to=rcpt))
    assert r.rc == 12 and "SMTPUTF8" in r.err, r
    assert b.envelopes == []


# ================================================================ security

@pytest.mark.parametrize("mode,mech", [
    ("auto", "CRAM-MD5"), ("plain", "PLAIN"), ("login", "LOGIN"),
    ("cram-md5", "CRAM-MD5")])
def test_starttls_and_each_auth_mode(aio, psend, certs, mode, mech):
    a = aio(tls="starttls", auth="required")
    r = psend(*srv_args(a.port, "starttls", mode), "--smtp-usr", USER,
              "--smtp-pwd", PASSWORD, "--ca-file", str(certs["local"][0]),
              *msg_args())
    assert r.rc == 0, r
    assert a.sink.logins == [(mech, USER, True)]
    assert len(a.envelopes) == 1


def test_auto_takes_best_offered(aio, psend, certs):
    """auto: CRAM-MD5 > PLAIN > LOGIN among what the server offers."""
    for exclude, mech in ((["CRAM-MD5"], "PLAIN"),
                          (["CRAM-MD5", "PLAIN"], "LOGIN")):
        a = aio(tls="starttls", auth="required", exclude=exclude)
        r = psend(*srv_args(a.port, "starttls"), "--smtp-usr", USER,
                  "--smtp-pwd", PASSWORD, "--insecure", *msg_args())
        assert r.rc == 0, r
        assert a.sink.logins == [(mech, USER, True)]


def test_implicit_tls(aio, psend, certs):
    """ssl: TLS from the first byte; the certificate must verify."""
    a = aio(tls="ssl", auth="required")
    base = [*srv_args(a.port, "ssl"), "--smtp-usr", USER, "--smtp-pwd",
            PASSWORD, *msg_args()]
    r = psend(*base, "--ca-file", str(certs["local"][0]))
    assert r.rc == 0, r
    r = psend(*base[:1], "localhost", *base[2:], "--ca-file",
              str(certs["local"][0]))
    assert r.rc == 0, r
    assert len(a.envelopes) == 2
    # The system store does not know this certificate.
    r = psend(*base)
    assert r.rc == 7, r
    assert "certificate of 127.0.0.1 is not trusted" in r.err
    assert "--ca-file" in r.err and "--insecure" in r.err
    r = psend(*base, "--insecure")
    assert r.rc == 0, r
    assert len(a.envelopes) == 3
    # Never a login before the refused certificate.
    assert len(a.sink.logins) == 3


def test_certificate_name_mismatch(aio, psend, certs):
    a = aio(tls="starttls", auth="required", cert="other")
    r = psend(*srv_args(a.port, "starttls"), "--smtp-usr", USER,
              "--smtp-pwd", PASSWORD, "--ca-file", str(certs["other"][0]),
              *msg_args())
    assert r.rc == 7, r
    assert "not trusted" in r.err and "mismatch" in r.err
    assert a.sink.logins == [] and a.envelopes == []


def test_no_starttls_offered(aio, psend):
    a = aio(auth="optional", auth_in_clear=True)
    r = psend(*srv_args(a.port, "starttls"), "--smtp-usr", USER,
              "--smtp-pwd", PASSWORD, *msg_args())
    assert r.rc == 8, r
    assert "does not offer STARTTLS" in r.err
    assert "--smtp-sec ssl" in r.err
    # XSIBackup's spelling "TLS" is starttls.
    r = psend(*srv_args(a.port, "TLS"), "--smtp-usr", USER, "--smtp-pwd",
              PASSWORD, *msg_args())
    assert r.rc == 8, r
    assert a.sink.logins == [] and a.envelopes == []


def test_ssl_against_clear_text_port(aio, psend):
    a = aio()
    r = psend(*srv_args(a.port, "ssl"), "--timeout", "5", *msg_args())
    assert r.rc == 6, r
    assert "TLS handshake" in r.err and "--smtp-sec starttls" in r.err
    assert a.envelopes == []


def test_password_never_before_tls(aio, psend):
    """none + a user + auth auto: refused before connecting; naming the
    mechanism sends it (a LAN relay)."""
    a = aio(auth="required", auth_in_clear=True)
    r = psend(*srv_args(a.port), "--smtp-usr", USER, "--smtp-pwd", PASSWORD,
              *msg_args())
    assert r.rc == 2, r
    assert "refusing to send the password without TLS" in r.err
    assert a.sink.logins == []
    r = psend(*srv_args(a.port, auth="auto"), "--smtp-usr", USER,
              "--smtp-pwd", PASSWORD, *msg_args())
    assert r.rc == 2, r
    r = psend(*srv_args(a.port, auth="plain"), "--smtp-usr", USER,
              "--smtp-pwd", PASSWORD, *msg_args())
    assert r.rc == 0, r
    assert a.sink.logins == [("PLAIN", USER, True)]


def test_auth_none_sends_no_auth(peer, psend):
    """--smtp-auth none: no AUTH at all, even with a user name."""
    p = peer(caps=("PIPELINING", "AUTH PLAIN LOGIN"))
    r = psend(*srv_args(p.port, auth="none"), "--smtp-usr", USER,
              *msg_args())
    assert r.rc == 0, r
    [s] = p.sessions
    assert "AUTH" not in s.verbs() and s.auth is None
    assert len(p.messages()) == 1


def test_auth_wrong_password(aio, psend):
    a = aio(tls="starttls", auth="required")
    r = psend(*srv_args(a.port, "starttls"), "--smtp-usr", USER,
              "--smtp-pwd", "wrong", "--insecure", *msg_args())
    assert r.rc == 9, r
    assert "login as %s refused: 535" % USER in r.err
    assert "app password" in r.err
    assert a.envelopes == []


def test_no_auth_mechanism(aio, psend):
    """A user name for a server that offers no AUTH: exit 9 and why."""
    a = aio(tls="starttls")
    r = psend(*srv_args(a.port, "starttls"), "--smtp-usr", USER,
              "--smtp-pwd", PASSWORD, "--insecure", *msg_args())
    assert r.rc == 9, r
    assert "offers no login mechanism" in r.err
    assert "--smtp-auth none" in r.err
    b = aio(tls="starttls", auth="required", exclude=["CRAM-MD5"])
    r = psend(*srv_args(b.port, "starttls", "cram-md5"), "--smtp-usr", USER,
              "--smtp-pwd", PASSWORD, "--insecure", *msg_args())
    assert r.rc == 9, r
    assert "AUTH" in r.err and "PLAIN" in r.err


def test_login_settings_checked(psend):
    r = psend(*srv_args(1), "--smtp-usr", USER, *msg_args())
    assert r.rc == 2 and "no password for user" in r.err
    r = psend(*srv_args(1, "starttls"), "--smtp-pwd", PASSWORD, *msg_args())
    assert r.rc == 2 and "no user name" in r.err
    r = psend(*srv_args(1, "starttls", "login"), *msg_args())
    assert r.rc == 2 and "--smtp-auth login needs a user name" in r.err
    r = psend(*srv_args(1, "starttls", "digest"), *msg_args())
    assert r.rc == 2 and "auto, none, plain, login or cram-md5" in r.err
    r = psend(*srv_args(1, "tls13"), *msg_args())
    assert r.rc == 2 and "none, ssl or starttls" in r.err
    r = psend("--smtp-srv", "127.0.0.1", "--smtp-port", "70000", *msg_args())
    assert r.rc == 2 and "1 to 65535" in r.err
    r = psend(*srv_args(1), "--smtp-pwd", "a", "--password-file", "/x",
              *msg_args())
    assert r.rc == 2 and "give one" in r.err
    r = psend(*srv_args(1), "--frobnicate", *msg_args())
    assert r.rc == 2 and "unknown option" in r.err and "usage:" in r.err
    r = psend(*msg_args())
    assert r.rc == 2 and "no SMTP server" in r.err
    r = psend("--smtp-srv", "smtp.example.test:587", *msg_args())
    assert r.rc == 2 and "give the port with --smtp-port" in r.err


def test_help(psend):
    r = psend("--help")
    assert r.rc == 0
    for word in ("--smtp-srv", "--smtp-sec", "--password-file", "--to-mode",
                 "POSTROOM_SMTP_SERVER", "Exit status", "11 recipient"):
        assert word in r.out
    r = subprocess.run([POSTROOM, "--help"], capture_output=True, text=True)
    assert "send " in r.stdout


# ================================================================ failures

def test_connection_refused(psend):
    port = free_port()
    r = psend(*srv_args(port), *msg_args())
    assert r.rc == 4, r
    assert "cannot connect to 127.0.0.1 port %d: connection refused" % port \
        in r.err
    assert "hint:" in r.err and "--smtp-port" in r.err


def test_cannot_resolve(psend):
    r = psend(*srv_args(25, host="no-such-host.invalid"), *msg_args())
    assert r.rc == 3, r
    assert "cannot resolve host 'no-such-host.invalid'" in r.err
    assert "hint:" in r.err


def test_connect_timeout(psend):
    bh = Blackhole()
    try:
        t0 = time.monotonic()
        r = psend(*srv_args(bh.port, host=bh.host), "--timeout", "2",
                  *msg_args())
        assert time.monotonic() - t0 < 20
    finally:
        bh.close()
    assert r.rc == 5, r
    assert "timed out" in r.err and "587" in r.err and "465" in r.err


def test_server_never_answers(psend):
    """A port that takes the connection and says nothing (e.g. an SMTPS
    port spoken to in clear text): timed out, with the port 465 hint."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    try:
        r = psend(*srv_args(s.getsockname()[1]), "--timeout", "2",
                  *msg_args())
    finally:
        s.close()
    assert r.rc == 5, r
    assert "sent no greeting within 2 s" in r.err
    assert "--smtp-sec ssl" in r.err


def test_server_stops_answering(peer, psend):
    p = peer()
    p.script("RCPT", "250 2.1.5 OK", delay=5)
    r = psend(*srv_args(p.port), "--timeout", "1", *msg_args())
    assert r.rc == 5, r
    assert "no answer from 127.0.0.1 within 1 s" in r.err


@pytest.mark.parametrize("cmd,reply,rc,text", [
    ("CONNECT", "554 5.7.1 no service for you", 13,
     "refused the session at the greeting: 554 5.7.1 no service for you"),
    ("EHLO", "550 5.7.1 bad name", 13, "refused the session"),
    ("MAIL", "553 5.7.1 sender not allowed", 10,
     "refused the sender backup@example.test: 553 5.7.1 sender not allowed"),
    ("MAIL", "451 4.3.0 try later", 10, "(temporary: try again later)"),
    ("DATA", "554 5.7.0 no thanks", 12,
     "refused the message: 554 5.7.0 no thanks"),
    ("DOT", "552 5.3.4 message too big", 12,
     "refused the message: 552 5.3.4 message too big"),
    ("DOT", "451 4.7.1 greylisted", 12, "(temporary: try again later)"),
])
def test_scripted_refusals(peer, psend, cmd, reply, rc, text):
    p = peer()
    p.script(cmd, reply)
    if cmd == "EHLO":
        p.script("HELO", reply)        # no HELO fallback either
    r = psend(*srv_args(p.port), *msg_args())
    assert r.rc == rc, r
    assert text in r.err
    assert "hint:" in r.err
    assert "--verbose shows the SMTP conversation" in r.err
    if cmd != "CONNECT":
        assert p.messages() == []


def test_recipient_refused_each_listed(peer, psend):
    p = peer()
    p.script("RCPT", "550 5.1.1 no such user", match="bad1@")
    p.script("RCPT", "550 5.1.1 unknown mailbox", match="bad2@")
    r = psend(*srv_args(p.port), *msg_args(
        to="bad1@example.test,good@example.test,bad2@example.test"))
    assert r.rc == 11, r
    assert "recipient bad1@example.test refused: 550 5.1.1 no such user" \
        in r.err
    assert "recipient bad2@example.test refused: 550 5.1.1 unknown " \
        "mailbox" in r.err
    assert "went to the other 1 of 3 recipients" in r.err
    assert [rc for rc, _ in p.delivered()] == ["good@example.test"]
    p.clear_script()
    p.script("RCPT", "554 5.7.1 relay access denied")
    r = psend(*srv_args(p.port), *msg_args())
    assert r.rc == 11, r
    assert "the message was not sent" in r.err
    assert "relay access denied" in r.err and "--smtp-usr" in r.err


def test_connection_dropped(peer, psend):
    p = peer()
    p.script("MAIL", DROP)
    r = psend(*srv_args(p.port), *msg_args())
    assert r.rc == 13, r
    assert "closed the connection" in r.err


def test_garbage_reply(peer, psend):
    p = peer()
    p.script("EHLO", "this is not smtp")
    r = psend(*srv_args(p.port), *msg_args())
    assert r.rc == 13, r
    assert "not SMTP" in r.err


def test_temporary_auth_failure(peer, psend):
    p = peer(caps=("PIPELINING", "AUTH PLAIN"))
    p.script("AUTH", "454 4.7.0 temporary authentication failure")
    r = psend(*srv_args(p.port, auth="plain"), "--smtp-usr", USER,
              "--smtp-pwd", PASSWORD, *msg_args())
    assert r.rc == 9, r
    assert "454 4.7.0 temporary authentication failure (temporary" in r.err


def envelope_chunks(session):
    """The read chunk of each MAIL, RCPT and DATA command, in order."""
    return [(line.split(":")[0].split()[0], chunk)
            for line, chunk in session.commands
            if line.split(":")[0].split()[0] in ("MAIL", "RCPT", "DATA")]


def test_pipelining_used_when_offered(peer, psend):
    """MAIL, RCPT... and DATA in one write when PIPELINING is offered,
    one at a time otherwise."""
    to = "a@example.test,b@example.test"
    p = peer(caps=("PIPELINING", "8BITMIME"))
    r = psend(*srv_args(p.port), *msg_args(to=to))
    assert r.rc == 0, r
    got = envelope_chunks(p.sessions[0])
    assert [v for v, _ in got] == ["MAIL", "RCPT", "RCPT", "DATA"]
    assert len({c for _, c in got}) == 1
    q = peer(caps=("8BITMIME",))
    r = psend(*srv_args(q.port), *msg_args(to=to))
    assert r.rc == 0, r
    got = envelope_chunks(q.sessions[0])
    assert [v for v, _ in got] == ["MAIL", "RCPT", "RCPT", "DATA"]
    assert len({c for _, c in got}) == 4


# ================================================================ --test

def test_test_mode_steps(aio, psend, certs):
    a = aio(tls="starttls", auth="required")
    args = [*srv_args(a.port, "starttls"), "--smtp-usr", USER, "--smtp-pwd",
            PASSWORD, "--ca-file", str(certs["local"][0]), "--test"]
    r = psend(*args)
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "\u2713 resolved 127.0.0.1: 127.0.0.1"
    assert lines[1].startswith("\u2713 connected to 127.0.0.1 [127.0.0.1]:")
    assert lines[2].startswith("\u2713 the server speaks ESMTP")
    assert lines[3].startswith("\u2713 STARTTLS: TLSv1.")
    assert "verified" in lines[3]
    assert lines[4] == "\u2713 logged in as %s with CRAM-MD5" % USER
    assert lines[5].startswith("- no test message")
    assert lines[6] == "\u2713 all checks passed"
    assert a.envelopes == []
    # With recipients: a short test message.
    r = psend(*args, "--mail-from", FROM, "--mail-to", TO)
    assert r.rc == 0, r
    assert "\u2713 message accepted for 1 recipient: 250" in r.out
    m = a.sink.message()
    assert m["Subject"] == "[postroom] Test message"
    text = m.get_body(("plain",)).get_content()
    assert "postroom send --test" in text and "CRAM-MD5" in text


def test_test_mode_failure_and_ascii(aio, psend, home):
    a = aio(tls="starttls", auth="required")
    r = psend(*srv_args(a.port, "starttls"), "--smtp-usr", USER,
              "--smtp-pwd", "nope", "--insecure", "--test",
              env=send_env(home, LANG="C"))
    assert r.rc == 9, r
    lines = r.out.splitlines()
    assert lines[-1] == "FAIL login as %s" % USER
    assert lines[-2].startswith("ok   STARTTLS: TLSv1.")
    assert "unverified" in lines[-2] and "--insecure" in lines[-2]
    assert "login as %s refused" % USER in r.err
    r = psend(*srv_args(a.port, "starttls"), "--test")
    assert r.rc == 7, r
    assert r.out.splitlines()[-1] == "\u2717 STARTTLS"


def test_test_mode_message_refused(peer, psend):
    """--test with recipients: each step once, then the refusal."""
    p = peer()
    p.script("MAIL", "553 5.7.1 sender not allowed")
    r = psend(*srv_args(p.port), "--test", *msg_args())
    assert r.rc == 10, r
    lines = r.out.splitlines()
    assert [l.split()[1] for l in lines] == [
        "resolved", "connected", "the", "no", "no", "send"]
    assert lines[-1] == "\u2717 send the message"
    assert "refused the sender" in r.err


def test_test_mode_clear_text(peer, psend):
    p = peer()
    r = psend(*srv_args(p.port), "--test")
    assert r.rc == 0, r
    assert "- no TLS (--smtp-sec none)" in r.out
    assert "- no login (no user name given)" in r.out
    [s] = p.sessions
    assert "MAIL" not in s.verbs() and s.verbs()[-1] == "QUIT"


# ================================================================ --verbose

@pytest.mark.parametrize("mode", ["plain", "login", "cram-md5"])
def test_verbose_masks_password(aio, psend, home, tmp_path, mode):
    """The transcript shows the conversation, never the password (from
    the command line, a file or the environment) nor its base64 forms."""
    a = aio(tls="starttls", auth="required")
    pwfile = tmp_path / "pw"
    pwfile.write_text(PASSWORD + "\n")
    pwfile.chmod(0o600)
    common = [*srv_args(a.port, "starttls", mode), "--smtp-usr", USER,
              "--insecure", "--verbose", *msg_args()]
    runs = [psend(*common, "--password-file", str(pwfile)),
            psend(*common, env=send_env(home,
                                        POSTROOM_SMTP_PASSWORD=PASSWORD)),
            psend(*common, env=send_env(
                home, POSTROOM_SMTP_PASSWORD_FILE=str(pwfile))),
            psend(*common, "--smtp-pwd", PASSWORD)]
    for r in runs:
        assert r.rc == 0, r
        assert "C: EHLO" in r.err and "S: 250" in r.err
        assert "C: STARTTLS" in r.err
        assert "C: AUTH %s" % mode.upper() in r.err
        assert "C: ****" in r.err or "AUTH PLAIN ****" in r.err
        assert "C: <message," in r.err
        assert "sent to 1 recipient" in r.err
        for form in secret_forms(USER, PASSWORD):
            assert form not in r.err and form not in r.out
    assert len(a.envelopes) == 4
    assert all(ok for _, _, ok in a.sink.logins)


def test_smtp_pwd_wiped_from_ps(aio, psend, home):
    """--smtp-pwd is wiped from the argument list once read."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    port = s.getsockname()[1]
    p = subprocess.Popen([POSTROOM, "send", *srv_args(port, "starttls"),
                          "--smtp-usr", USER, "--smtp-pwd", PASSWORD,
                          "--timeout", "3", "--test"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=send_env(home))
    try:
        conn, _ = s.accept()            # connected: the options are read
        with open("/proc/%d/cmdline" % p.pid, "rb") as f:
            cmdline = f.read()
        assert b"--smtp-pwd" in cmdline
        assert PASSWORD.encode() not in cmdline
        conn.close()
    finally:
        p.wait(30)
        s.close()
    assert p.returncode != 0


# ================================================================ settings

def write_conf(home, text, mode=0o600, name=".config/postroom/send.conf"):
    path = home / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_precedence_option_env_profile(aio, psend, home):
    """command line > environment > profile > default, per setting."""
    a, b, c = aio(), aio(), aio()
    write_conf(home, "# shared by every profile\nsecurity = none\n"
               "from = %s\nto = %s\n\n[default]\nserver = 127.0.0.1\n"
               "port = %d\napp_name = \"Backups\"\n" % (FROM, TO, a.port))
    env = send_env(home, POSTROOM_SMTP_PORT=str(b.port))
    r = psend("--title", "t", "--smtp-port", str(c.port), env=dict(env))
    assert r.rc == 0, r
    r = psend("--title", "t", env=dict(env))
    assert r.rc == 0, r
    r = psend("--title", "t")
    assert r.rc == 0, r
    assert [len(x.envelopes) for x in (a, b, c)] == [1, 1, 1]
    assert a.sink.message()["Subject"] == "[Backups] t"
    assert a.envelopes[0].rcpt_tos == [TO]
    # The environment beats the profile for the recipients too.
    r = psend("--title", "t", extra_env={"POSTROOM_SMTP_TO":
                                         "env@example.test"})
    assert r.rc == 0, r
    assert a.envelopes[-1].rcpt_tos == ["env@example.test"]
    # And the command line beats both.
    r = psend("--title", "t", "--mail-to", "cli@example.test",
              extra_env={"POSTROOM_SMTP_TO": "env@example.test"})
    assert a.envelopes[-1].rcpt_tos == ["cli@example.test"]


def test_profiles(aio, psend, home):
    a, b = aio(), aio()
    conf = write_conf(home, "security = none\nfrom = %s\n"
                      "[default]\nserver = 127.0.0.1\nport = %d\n"
                      "[other]\nserver = 127.0.0.1\nport = %d\n"
                      "to = other@example.test\napp_name = Other\n"
                      % (FROM, a.port, b.port))
    r = psend("--profile", "other", "--title", "t")
    assert r.rc == 0, r
    assert b.envelopes[0].rcpt_tos == ["other@example.test"]
    assert parse(b.envelopes[0].original_content)["Subject"] == "[Other] t"
    r = psend("--title", "t", "--mail-to", TO,
              extra_env={"POSTROOM_SMTP_PROFILE": "other"})
    assert r.rc == 0 and len(b.envelopes) == 2, r
    r = psend("--profile", "missing", "--title", "t")
    assert r.rc == 2 and "no profile [missing] in %s" % conf in r.err
    r = psend("--profile", "../x", "--title", "t")
    assert r.rc == 2 and "bad profile name" in r.err
    # XDG_CONFIG_HOME and --config / POSTROOM_SMTP_CONFIG name the file.
    xdg = home / "xdg"
    write_conf(xdg, conf.read_text().replace("port = %d" % a.port,
                                             "port = %d" % b.port),
               name="postroom/send.conf")
    r = psend("--title", "t", "--mail-to", TO,
              extra_env={"XDG_CONFIG_HOME": str(xdg)})
    assert r.rc == 0 and len(b.envelopes) == 3, r
    r = psend("--config", str(home / "nope.conf"), "--title", "t")
    assert r.rc == 2 and "cannot read config file" in r.err
    r = psend("--title", "t", "--mail-to", TO, extra_env={
        "POSTROOM_SMTP_CONFIG": str(xdg / "postroom/send.conf")})
    assert r.rc == 0 and len(b.envelopes) == 4, r
    assert len(a.envelopes) == 0


@pytest.mark.parametrize("text,msg", [
    ("[default]\nsrever = x\n", "line 2: unknown key 'srever'"),
    ("[default\nserver = x\n", "line 1: expected \"[profile]\""),
    ("[default]\njust words\n", "line 2: expected \"key = value\""),
    ("[bad name]\n", "line 1: bad profile name"),
    ("[default]\nport = many\n", "bad port 'many' (from "),
    ("[default]\ntimeout = 0\n", "1 to 3600 seconds"),
])
def test_config_errors(psend, home, text, msg):
    write_conf(home, text)
    r = psend("--smtp-srv", "127.0.0.1", *msg_args())
    assert r.rc == 2, r
    assert msg in r.err


def test_config_password_permissions(aio, psend, home, certs):
    """A config file holding a password must not be readable by others;
    a password file readable by others gets a warning."""
    a = aio(tls="starttls", auth="required")
    text = ("[default]\nserver = 127.0.0.1\nport = %d\nuser = %s\n"
            "password = %s\nca_file = %s\nfrom = %s\nto = %s\n"
            % (a.port, USER, PASSWORD, certs["local"][0], FROM, TO))
    conf = write_conf(home, text, mode=0o644)
    r = psend("--title", "t")
    assert r.rc == 2, r
    assert "holds a password but other users can read it" in r.err
    assert "chmod 600 %s" % conf in r.err
    assert PASSWORD not in r.err
    conf.chmod(0o600)
    r = psend("--title", "t")
    assert r.rc == 0, r
    # password_file with "~/": no password in the config file itself.
    pw = home / ".smtp-pw"
    pw.write_text(PASSWORD + "\r\n")
    pw.chmod(0o644)
    write_conf(home, text.replace("password = %s" % PASSWORD,
                                  "password_file = ~/.smtp-pw"), mode=0o644)
    r = psend("--title", "t")
    assert r.rc == 0, r
    assert "warning: other users can read the password file" in r.err
    assert a.sink.logins == [("CRAM-MD5", USER, True)] * 2
    pw.write_text("\n")
    r = psend("--title", "t")
    assert r.rc == 2 and "first line is empty" in r.err


def test_password_sources_precedence(aio, psend, home, tmp_path):
    """--smtp-pwd/--password-file > $..._PASSWORD > $..._PASSWORD_FILE >
    the profile; a wrong password from a lower source is not used."""
    a = aio(tls="starttls", auth="required")
    good = tmp_path / "good"
    good.write_text(PASSWORD)
    bad = tmp_path / "bad"
    bad.write_text("wrong")
    for f in (good, bad):
        f.chmod(0o600)
    write_conf(home, "[default]\npassword = wrong\n")
    base = [*srv_args(a.port, "starttls"), "--smtp-usr", USER, "--insecure",
            *msg_args()]
    assert psend(*base).rc == 9
    assert psend(*base, extra_env={
        "POSTROOM_SMTP_PASSWORD_FILE": str(good)}).rc == 0
    assert psend(*base, extra_env={
        "POSTROOM_SMTP_PASSWORD": PASSWORD,
        "POSTROOM_SMTP_PASSWORD_FILE": str(bad)}).rc == 0
    assert psend(*base, "--password-file", str(good), extra_env={
        "POSTROOM_SMTP_PASSWORD": "wrong"}).rc == 0
    assert psend(*base, "--smtp-pwd", PASSWORD, extra_env={
        "POSTROOM_SMTP_PASSWORD": "wrong"}).rc == 0
    assert len(a.envelopes) == 4


def test_from_defaults_to_user(aio, psend, certs):
    a = aio(tls="starttls", auth="required")
    r = psend(*srv_args(a.port, "starttls"), "--smtp-usr", USER,
              "--smtp-pwd", PASSWORD, "--insecure", "--mail-to", TO,
              "--title", "t")
    assert r.rc == 0, r
    assert a.envelopes[0].mail_from == USER
    r = psend(*srv_args(a.port), "--mail-to", TO, "--title", "t")
    assert r.rc == 2 and "no sender" in r.err


def test_environment_settings(aio, psend, home):
    """Every server setting from POSTROOM_SMTP_*; XSIBackup option
    spellings with '='."""
    a = aio()
    env = send_env(home, POSTROOM_SMTP_SERVER="127.0.0.1",
                   POSTROOM_SMTP_PORT=str(a.port),
                   POSTROOM_SMTP_SECURITY="none", POSTROOM_SMTP_FROM=FROM,
                   POSTROOM_SMTP_TO="a@example.test,b@example.test",
                   POSTROOM_SMTP_TO_MODE="first",
                   POSTROOM_SMTP_APP_NAME="Cron",
                   POSTROOM_SMTP_HELO="client.example.test")
    r = psend("--title", "t", env=env)
    assert r.rc == 0, r
    m = a.sink.message()
    assert m["Subject"] == "[Cron] t" and m["To"] == "a@example.test"
    r = psend("--smtp-srv=127.0.0.1", "--smtp-port=%d" % a.port,
              "--smtp-sec=none", "--smtp-auth=none", "--mail-from=" + FROM,
              "--mail-to=x@example.test", "--title=t")
    assert r.rc == 0, r
    assert a.envelopes[-1].rcpt_tos == ["x@example.test"]


# ================================================================ postroom

@pytest.fixture
def postroom_server(mailroot, start_server, certs):
    """The postroom server with a certificate for 127.0.0.1, relaying
    only for logged-in clients, no delay after a failed login."""
    shutil.copy(certs["local"][0], mailroot / "server.cert")
    shutil.copy(certs["local"][1], mailroot / "server.key")
    (mailroot / "smtprelay.tab").write_text("")
    with open(mailroot / "server.tab", "a") as f:
        f.write('"SMTP-AuthFailDelay"\t"0"\n')
    return start_server(mailroot)


@pytest.mark.parametrize("mode,mech", [
    ("auto", "CRAM-MD5"), ("plain", "PLAIN"), ("login", "LOGIN"),
    ("cram-md5", "CRAM-MD5")])
def test_postroom_submission(postroom_server, psend, certs, mode, mech):
    srv = postroom_server
    r = psend(*srv_args(srv.ports["submission"], "starttls", mode),
              "--smtp-usr", "alice@example.test", "--smtp-pwd", "secret",
              "--ca-file", str(certs["local"][0]), "--verbose",
              "--mail-from", "alice@example.test",
              "--mail-to", "bob@example.test", "--title", "via postroom",
              "--field", "Mode=" + mode)
    assert r.rc == 0, r
    assert "C: AUTH %s" % mech in r.err
    assert "secret" not in r.err
    [raw] = wait_messages(srv.root, "bob", 1)
    m = parse(raw)
    assert m["Subject"] == "[postroom] via postroom"
    assert m["X-AuthUser"] == "alice@example.test"
    assert "(using TLSv1." in raw.decode()
    assert mode in m.get_body(("plain",)).get_content()


def test_postroom_smtps_and_failures(postroom_server, psend, certs):
    srv = postroom_server
    base = ["--smtp-usr", "alice@example.test", "--mail-from",
            "alice@example.test", "--mail-to", "bob@example.test",
            "--title", "t"]
    r = psend(*srv_args(srv.ports["smtps"], "ssl"), *base, "--smtp-pwd",
              "secret", "--ca-file", str(certs["local"][0]))
    assert r.rc == 0, r
    assert len(wait_messages(srv.root, "bob", 1)) == 1
    # Wrong password.
    r = psend(*srv_args(srv.ports["smtps"], "ssl"), *base, "--smtp-pwd",
              "wrong", "--ca-file", str(certs["local"][0]))
    assert r.rc == 9 and "535" in r.err, r
    # Its self-signed certificate is not trusted without --ca-file.
    r = psend(*srv_args(srv.ports["submission"], "starttls"), *base,
              "--smtp-pwd", "secret")
    assert r.rc == 7, r
    # Submission in clear text: STARTTLS first, says the server.
    r = psend(*srv_args(srv.ports["submission"], auth="none"),
              "--mail-from", "alice@example.test", "--mail-to",
              "bob@example.test", "--title", "t")
    assert r.rc == 10, r
    assert "530" in r.err and "--smtp-sec starttls" in r.err
    # Relaying needs the login.
    r = psend(*srv_args(srv.ports["smtp"], "starttls", "none"),
              "--ca-file", str(certs["local"][0]), "--mail-from",
              "alice@example.test", "--mail-to", "someone@elsewhere.test",
              "--title", "t")
    assert r.rc == 11, r
    assert "recipient someone@elsewhere.test refused: 550" in r.err
    # --test against the real server.
    r = psend(*srv_args(srv.ports["submission"], "starttls"), *base[:2],
              "--smtp-pwd", "secret", "--ca-file", str(certs["local"][0]),
              "--test")
    assert r.rc == 0, r
    assert "\u2713 logged in as alice@example.test with CRAM-MD5" in r.out
