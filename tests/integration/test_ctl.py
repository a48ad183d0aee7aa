"""`postroom ctl`, the CtrlClnt-compatible administration client.

The first part runs the client against a scripted CTRL server written
here, so that the exact bytes the client sends can be asserted (MD5 login,
quoting, dot-stuffing of uploads, "quit") and so that broken servers can
be simulated (timeouts, over-long lines, bad replies, TLS problems).
The second part runs it against the real server (`postroom serve`) for
every command of the admin protocol and checks the MailRoot files.
"""
import hashlib
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import DOMAIN, init_mailroot, run

TS = "<1266710000.140234@xmailserver.test>"
GREETING = "+00000 %s XMail 1.27 CTRL Server; Sat, 20 Feb 2010" % TS
# The example of XMAIL-FACTS 3.2: MD5("<timestamp>secret").
DIGEST = "#68afefaa54286b5eb9801aece1808511"
LOGIN = b'"admin"\t"' + DIGEST.encode() + b'"\r\n'
QUIT = b'"quit"\r\n'
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


# ---------------------------------------------------------------- helpers

def ctl(*args, input=None, env=None, user="admin", password="secret"):
    """Run `postroom ctl` with a clean environment; CompletedProcess.

    `user`/`password` become -u/-p unless None.  `env` adds variables.
    """
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("POSTROOM_CTRL_", "CTRL_"))}
    e.update(env or {})
    opts = []
    if user is not None:
        opts += ["-u", user]
    if password is not None:
        opts += ["-p", password]
    p = run("ctl", *opts, *args, check=False, input=input, env=e)
    for mark in SANITIZER_MARKS:
        assert mark not in p.stderr, p.stderr
    return p


class Chan:
    """One accepted connection of the scripted server."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.received = bytearray()

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def send_raw(self, data):
        self.sock.sendall(data)

    def readline(self):
        """The next CRLF line without CRLF; EOFError when the peer left."""
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.buf += data
            self.received += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def starttls(self, ctx):
        assert self.buf == b""
        self.sock = ctx.wrap_socket(self.sock, server_side=True)


class FakeCtrl:
    """A CTRL server for one connection, run by `handler(chan)` in a
    thread.  `ctx`: TLS from the first byte (CTRLS)."""

    def __init__(self, handler, ctx=None, host="127.0.0.1"):
        self.handler = handler
        self.ctx = ctx
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.lsock = socket.create_server((host, 0), family=family)
        self.port = self.lsock.getsockname()[1]
        self.received = b""
        self.error = None
        self.peer_cert = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.lsock.settimeout(30)
        try:
            conn, _ = self.lsock.accept()
        except OSError as e:
            self.error = e
            return
        conn.settimeout(30)
        ch = None
        try:
            if self.ctx is not None:
                conn = self.ctx.wrap_socket(conn, server_side=True)
            ch = Chan(conn)
            self.handler(ch)
        except (EOFError, OSError, ssl.SSLError) as e:
            self.error = e
        finally:
            if ch is not None:
                self.received = bytes(ch.received)
                if isinstance(ch.sock, ssl.SSLSocket):
                    self.peer_cert = ch.sock.getpeercert()
            conn.close()
            self.lsock.close()

    def join(self):
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self.received


def serve_quit(ch):
    """Answer "quit" (and anything else with OK) until the client leaves."""
    try:
        while True:
            line = ch.readline()
            ch.send("+00000 OK")
            if line == b'"quit"':
                return
    except EOFError:
        return


def session(reply, greeting=GREETING, login_ok=True, tls_switch=None):
    """A handler: greeting, optional "#!TLS", login, one command answered
    by reply(ch, line), then quit."""
    def handler(ch):
        ch.send(greeting)
        line = ch.readline()
        if tls_switch is not None and line == b"#!TLS":
            ch.send("+00000 Ready to start TLS mode")
            ch.starttls(tls_switch)
            line = ch.readline()
        if not login_ok:
            ch.send("-00105 Bad controller login")
            return
        ch.send("+00000 OK")
        reply(ch, ch.readline())
        serve_quit(ch)
    return handler


def ok(ch, line):
    ch.send("+00000 OK")


def listing(*lines):
    def reply(ch, line):
        ch.send("+00100 OK")
        for text in lines:
            ch.send(text)
        ch.send(".")
    return reply


def upload(ch, line):
    """Take an upload up to "." and answer OK."""
    ch.send("+00101 OK")
    while ch.readline() != b".":
        pass
    ch.send("+00000 OK")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """Self-signed certificates made by `postroom init`: "localhost" and
    "other" (a different key), as (cert, key) paths."""
    base = tmp_path_factory.mktemp("certs")
    out = {}
    for name in ("localhost", "other"):
        root = init_mailroot(base / name, domain=name, users={})
        out[name] = (str(root / "server.cert"), str(root / "server.key"))
    return out


@pytest.fixture(scope="module")
def client_cert(tmp_path_factory):
    """A self-signed client certificate (clientAuth) as (cert, key)."""
    base = tmp_path_factory.mktemp("client")
    cert, key = str(base / "client.pem"), str(base / "client.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "2", "-subj", "/CN=admin",
                    "-addext", "extendedKeyUsage=clientAuth",
                    "-keyout", key, "-out", cert],
                   capture_output=True, check=True)
    return cert, key


def server_ctx(certs, name="localhost"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certs[name])
    return ctx


# ------------------------------------------------- scripted server: bytes

def test_md5_login_command_and_quit_bytes():
    srv = FakeCtrl(session(ok))
    p = ctl("-n", str(srv.port), "noop")
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    assert srv.join() == LOGIN + b'"noop"\r\n' + QUIT


def test_every_field_quoted_and_quotes_escaped():
    srv = FakeCtrl(session(ok))
    p = ctl("-n", str(srv.port), "aliasadd", DOMAIN, 'say "hi"', "",
            "-dash", "x\\y")
    assert p.returncode == 0, p.stderr
    assert srv.join() == LOGIN + (
        b'"aliasadd"\t"example.test"\t"say \\"hi\\""\t""\t"-dash"\t'
        b'"x\\y"\r\n') + QUIT


def test_clear_login_with_c():
    srv = FakeCtrl(session(ok))
    p = ctl("-c", "-n", str(srv.port), "noop", password='pa"ss')
    assert p.returncode == 0, p.stderr
    assert srv.join().startswith(b'"admin"\t"pa\\"ss"\r\n"noop"\r\n')


def test_md5_uses_the_greeting_timestamp_only():
    greeting = "+00000 <42.7@10.0.0.1> postroom CTRL Server; today <x>"
    srv = FakeCtrl(session(ok, greeting=greeting))
    p = ctl("-n", str(srv.port), "noop", password="pw")
    assert p.returncode == 0, p.stderr
    md5 = hashlib.md5(b"<42.7@10.0.0.1>pw").hexdigest()
    assert srv.join().startswith(b'"admin"\t"#%s"\r\n' % md5.encode())


def test_greeting_without_timestamp_refuses_md5():
    srv = FakeCtrl(session(ok, greeting="+00000 hello"))
    p = ctl("-n", str(srv.port), "noop")
    assert p.returncode == 3
    assert "no timestamp in the greeting" in p.stderr
    assert b"secret" not in srv.join()


def test_listing_unstuffed_to_stdout():
    srv = FakeCtrl(session(listing('"a"\t"b"', "..dotted", "", "...")))
    p = ctl("-n", str(srv.port), "userlist")
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout == '"a"\t"b"\n.dotted\n\n..\n'
    srv.join()


def test_listing_on_a_terminal_is_made_safe():
    import pty
    listing_line = "evil\x1b]0;owned\x07 tab\tok caf\u00e9"
    srv = FakeCtrl(session(listing(listing_line)))
    master, slave = pty.openpty()
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("POSTROOM_CTRL_", "CTRL_"))}
    p = subprocess.run([os.environ["POSTROOM_BIN"], "ctl", "-u", "admin",
                        "-p", "secret", "-n", str(srv.port), "userlist"],
                       stdout=slave, stderr=subprocess.PIPE, env=e,
                       timeout=60)
    os.close(slave)
    out = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    os.close(master)
    assert p.returncode == 0, p.stderr
    assert out.replace(b"\r\n", b"\n") == \
        "evil?]0;owned? tab\tok caf\u00e9\n".encode()
    srv.join()


def test_listing_to_dump_file(tmp_path):
    dump = tmp_path / "out.txt"
    dump.write_text("old content that must go\n")
    srv = FakeCtrl(session(listing("one", "..two", "raw\x1b[0m")))
    p = ctl("-n", str(srv.port), "-f", str(dump), "domainlist")
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    assert dump.read_text() == "one\n.two\nraw\x1b[0m\n"
    srv.join()


def test_dump_file_not_writable(tmp_path):
    srv = FakeCtrl(session(listing("one")))
    bad = tmp_path / "no" / "such" / "dir"
    p = ctl("-n", str(srv.port), "-f", str(bad), "domainlist")
    assert (p.returncode, p.stdout) == (1, "")
    assert p.stderr == "postroom ctl: %s: No such file or directory\n" % bad
    # The listing is read to its end: the session still ends with quit.
    assert srv.join().endswith(QUIT)


def test_server_gone_before_quit_is_no_error():
    def handler(ch):
        ch.send(GREETING)
        ch.readline()
        ch.send("+00000 OK")
        ch.readline()
        ch.send("+00000 OK")
    srv = FakeCtrl(handler)
    p = ctl("-n", str(srv.port), "noop")
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    srv.join()


def test_upload_dot_stuffed_from_stdin():
    srv = FakeCtrl(session(upload))
    data = ".hidden\nplain\r\n\n..two\n.\nlast-without-newline"
    p = ctl("-n", str(srv.port), "cfgfileset", "x.tab", input=data)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    assert srv.join() == LOGIN + b'"cfgfileset"\t"x.tab"\r\n' + (
        b"..hidden\r\nplain\r\n\r\n...two\r\n..\r\n"
        b"last-without-newline\r\n.\r\n") + QUIT


def test_empty_upload_sends_only_the_dot():
    srv = FakeCtrl(session(upload))
    p = ctl("-n", str(srv.port), "custdomset", "d.test", input="")
    assert p.returncode == 0, p.stderr
    assert srv.join().endswith(b'"custdomset"\t"d.test"\r\n.\r\n' + QUIT)


def test_upload_from_f_file(tmp_path):
    src = tmp_path / "mailproc.tab"
    src.write_bytes(b'"mailbox"\r\n.x\r\n')
    srv = FakeCtrl(session(upload))
    p = ctl("-n", str(srv.port), "-f", str(src), "usersetmproc", DOMAIN,
            "alice", input="not this\n")
    assert p.returncode == 0, p.stderr
    assert srv.join().endswith(b'"mailbox"\r\n..x\r\n.\r\n' + QUIT)


def test_upload_file_missing_drops_connection_without_dot(tmp_path):
    srv = FakeCtrl(session(upload))
    p = ctl("-n", str(srv.port), "-f", str(tmp_path / "nope"),
            "cfgfileset", "x.tab")
    assert p.returncode == 1
    assert "nope: No such file or directory" in p.stderr
    got = srv.join()
    assert got.endswith(b'"cfgfileset"\t"x.tab"\r\n')   # no ".", no quit


def test_upload_line_too_long_drops_connection(tmp_path):
    srv = FakeCtrl(session(upload))
    p = ctl("-n", str(srv.port), "cfgfileset", "x.tab",
            input="ok\n" + "x" * 70000 + "\n")
    assert p.returncode == 1
    assert "line 2: longer than 65536 bytes" in p.stderr
    got = srv.join()
    assert got.endswith(b"ok\r\n") and b".\r\n" not in got


def test_upload_refused_at_the_end():
    def reply(ch, line):
        ch.send("+00101 OK")
        while ch.readline() != b".":
            pass
        ch.send("-00020 Invalid file structure")
    srv = FakeCtrl(session(reply))
    p = ctl("-n", str(srv.port), "cfgfileset", "x.tab", input="a\n")
    assert p.returncode == 1
    assert p.stderr == "postroom ctl: -00020 Invalid file structure\n"
    assert srv.join().endswith(QUIT)


def test_refused_command_exit_1_and_quit():
    def reply(ch, line):
        ch.send("-00012 User not found")
    srv = FakeCtrl(session(reply))
    p = ctl("-n", str(srv.port), "userdel", DOMAIN, "nobody")
    assert (p.returncode, p.stdout) == (1, "")
    assert p.stderr == "postroom ctl: -00012 User not found\n"
    assert srv.join().endswith(QUIT)


def test_refusal_text_is_made_terminal_safe():
    def reply(ch, line):
        ch.send_raw(b"-00012 bad\x1b[2Jthing\x07\r\n")
    srv = FakeCtrl(session(reply))
    p = ctl("-n", str(srv.port), "noop")
    assert p.returncode == 1
    assert p.stderr == "postroom ctl: -00012 bad?[2Jthing?\n"
    srv.join()


def test_login_refused_exit_4():
    srv = FakeCtrl(session(ok, login_ok=False))
    p = ctl("-n", str(srv.port), "noop")
    assert p.returncode == 4
    assert p.stderr == "postroom ctl: -00105 Bad controller login\n"
    assert srv.join() == LOGIN


def test_greeting_refusal_exit_3():
    srv = FakeCtrl(lambda ch: ch.send("-00130 Server does not like Your IP"))
    p = ctl("-n", str(srv.port), "noop")
    assert p.returncode == 3
    assert "-00130 Server does not like Your IP" in p.stderr
    assert srv.join() == b""


def test_not_a_reply_exit_3():
    def reply(ch, line):
        ch.send("220 this is SMTP")
    srv = FakeCtrl(session(reply))
    p = ctl("-n", str(srv.port), "noop")
    assert p.returncode == 3
    assert "not a CTRL reply: 220 this is SMTP" in p.stderr
    srv.join()


def test_timeout_on_silent_server():
    hold = threading.Event()
    srv = FakeCtrl(lambda ch: hold.wait(20))
    t0 = time.monotonic()
    p = ctl("-t", "1", "-n", str(srv.port), "noop")
    elapsed = time.monotonic() - t0
    hold.set()
    assert p.returncode == 3
    assert "timed out" in p.stderr
    assert elapsed < 10
    srv.join()


def test_overlong_reply_line():
    def reply(ch, line):
        ch.send_raw(b"+00100 OK\r\n" + b"y" * 70000)
    srv = FakeCtrl(session(reply))
    p = ctl("-n", str(srv.port), "userlist")
    assert p.returncode == 3
    assert "longer than 65536 bytes" in p.stderr
    srv.join()


def test_connection_closed_in_listing():
    def handler(ch):
        ch.send(GREETING)
        ch.readline()
        ch.send("+00000 OK")
        ch.readline()
        ch.send("+00100 OK")
        ch.send("first")
    srv = FakeCtrl(handler)
    p = ctl("-n", str(srv.port), "userlist")
    assert p.returncode == 3
    assert p.stdout == "first\n"
    assert "connection closed by the server" in p.stderr
    srv.join()


def test_connection_refused():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    p = ctl("-n", str(port), "noop")
    assert p.returncode == 3
    assert "127.0.0.1 port %d: cannot connect: Connection refused" % port \
        in p.stderr


def test_default_ports():
    # Whether something listens there or not, the port is in the message
    # (-D: "connected to ..."; otherwise "cannot connect").
    p = ctl("-D", "-t", "2", "noop")
    assert "127.0.0.1 port 6017" in p.stderr
    p = ctl("-D", "-t", "2", "-L", "noop")
    assert "127.0.0.1 port 6018" in p.stderr


def test_unknown_host():
    p = ctl("-s", "no-such-host.invalid", "noop")
    assert p.returncode == 3
    assert "no-such-host.invalid port 6017: cannot resolve" in p.stderr


def test_host_name_and_ipv6():
    srv = FakeCtrl(session(ok))
    p = ctl("-s", "localhost", "-n", str(srv.port), "noop")
    assert p.returncode == 0, p.stderr
    srv.join()
    try:
        srv = FakeCtrl(session(ok), host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    p = ctl("-s", "::1", "-n", str(srv.port), "noop")
    assert p.returncode == 0, p.stderr
    assert srv.join() == LOGIN + b'"noop"\r\n' + QUIT


# ------------------------------------------------ scripted server: options

@pytest.mark.parametrize("args, message", [
    ([], "no command"),
    (["-x", "noop"], "unknown option: -x"),
    (["--bogus", "noop"], "unknown option: --bogus"),
    (["-t"], "option needs a value: -t"),
    (["-t", "0", "noop"], "bad timeout"),
    (["-t", "abc", "noop"], "bad timeout"),
    (["-n", "0", "noop"], "bad port: 0"),
    (["-n", "65536", "noop"], "bad port: 65536"),
    (["-n", "12x", "noop"], "bad port: 12x"),
    (["useradd", DOMAIN, "a\tb", "pw", "U"], "parameter: 2"),
    (["useradd", DOMAIN, "bob", "p\nw", "U"], "parameter: 3"),
    (["userdel", DOMAIN, "ends\\"], "parameter: 2"),
    (["-K", "/k.pem", "noop"], "-K and -C"),
    (["-C", "/c.pem", "noop"], "-K and -C"),
    (["--password-file", "/f", "noop"], "exclude each other"),
])
def test_usage_errors(args, message):
    p = ctl(*args)
    assert p.returncode == 2
    assert message in p.stderr
    assert "usage: postroom ctl" in p.stderr


def test_missing_user_or_password():
    p = ctl("noop", user=None)
    assert p.returncode == 2 and "no user" in p.stderr
    p = ctl("noop", password=None)
    assert p.returncode == 2 and "no password" in p.stderr
    p = ctl("noop", password="")
    assert p.returncode == 2 and "empty password" in p.stderr


def test_too_many_parameters_too_long_line():
    p = ctl("domainlist", *["d%d" % i for i in range(64)])
    assert p.returncode == 2 and "too many parameters" in p.stderr
    p = ctl("domainlist", "x" * 8200)
    assert p.returncode == 2 and "longer than 8192 bytes" in p.stderr
    p = ctl("noop", user="u" * 300)
    assert p.returncode == 2 and "bad user name" in p.stderr


def test_help():
    p = run("ctl", "--help")
    assert "POSTROOM_CTRL_PASSWORD_FILE" in p.stdout
    assert "NOT verified" in p.stdout
    assert p.stderr == ""
    assert "ctl" in run("--help").stdout


def test_environment_defaults():
    srv = FakeCtrl(session(ok))
    p = ctl("noop", user=None, password=None, env={
        "POSTROOM_CTRL_SERVER": "127.0.0.1",
        "POSTROOM_CTRL_PORT": str(srv.port),
        "POSTROOM_CTRL_USER": "admin",
        "POSTROOM_CTRL_PASSWORD": "secret"})
    assert p.returncode == 0, p.stderr
    assert srv.join() == LOGIN + b'"noop"\r\n' + QUIT


def test_options_win_over_environment(tmp_path):
    srv = FakeCtrl(session(ok))
    pwfile = tmp_path / "pw"
    pwfile.write_text("wrong\n")
    p = ctl("-n", str(srv.port), "-u", "admin", "noop", user=None, env={
        "POSTROOM_CTRL_PORT": "1",
        "POSTROOM_CTRL_USER": "someone",
        "POSTROOM_CTRL_PASSWORD": "wrong",
        "POSTROOM_CTRL_PASSWORD_FILE": str(pwfile)})
    assert p.returncode == 0, p.stderr
    assert srv.join() == LOGIN + b'"noop"\r\n' + QUIT


def test_password_file_option_and_environment(tmp_path):
    pwfile = tmp_path / "pw"
    pwfile.write_text("secret\r\nsecond line ignored\n")
    srv = FakeCtrl(session(ok))
    p = ctl("-n", str(srv.port), "--password-file", str(pwfile), "noop",
            password=None, env={"POSTROOM_CTRL_PASSWORD": "wrong"})
    assert p.returncode == 0, p.stderr
    assert srv.join().startswith(LOGIN)
    srv = FakeCtrl(session(ok))
    p = ctl("-n", str(srv.port), "noop", password=None,
            env={"POSTROOM_CTRL_PASSWORD_FILE": str(pwfile)})
    assert p.returncode == 0, p.stderr
    assert srv.join().startswith(LOGIN)
    # The password variable comes before the password file variable.
    srv = FakeCtrl(session(ok))
    p = ctl("-n", str(srv.port), "noop", password=None,
            env={"POSTROOM_CTRL_PASSWORD": "secret",
                 "POSTROOM_CTRL_PASSWORD_FILE": str(tmp_path / "none")})
    assert p.returncode == 0, p.stderr
    srv.join()


def test_password_file_problems(tmp_path):
    p = ctl("--password-file", str(tmp_path / "none"), "noop",
            password=None)
    assert p.returncode == 1 and "No such file or directory" in p.stderr
    empty = tmp_path / "empty"
    empty.write_text("\n")
    p = ctl("--password-file", str(empty), "noop", password=None)
    assert p.returncode == 1 and "empty password" in p.stderr


def test_debug_masks_passwords():
    srv = FakeCtrl(session(listing("x", "y")))
    p = ctl("-D", "-n", str(srv.port), "useradd", DOMAIN, "bob",
            "Top5ecret", "U")
    assert p.returncode == 0, p.stderr
    srv.join()
    err = p.stderr
    assert "Top5ecret" not in err and "secret" not in err
    assert DIGEST[1:] not in err
    assert 'C: "admin"\t"********"\n' in err
    assert 'C: "useradd"\t"example.test"\t"bob"\t"********"\t"U"\n' in err
    assert "S: " + GREETING in err
    assert "S: (listing of 2 lines)" in err
    assert 'C: "quit"' in err
    assert p.stdout == "x\ny\n"


# ---------------------------------------------------- scripted server: TLS

def test_tls_switch_keeps_md5_of_greeting(certs):
    srv = FakeCtrl(session(ok, tls_switch=server_ctx(certs)))
    p = ctl("-S", "-n", str(srv.port), "noop")
    assert p.returncode == 0, p.stderr
    raw = srv.join()
    assert raw.startswith(b"#!TLS\r\n")
    assert raw[7:] == LOGIN + b'"noop"\r\n' + QUIT
    assert srv.error is None


def test_tls_switch_refused(certs):
    def handler(ch):
        ch.send(GREETING)
        ch.readline()
        ch.send("-00249 TLS service disabled")
        serve_quit(ch)
    srv = FakeCtrl(handler)
    p = ctl("-S", "-n", str(srv.port), "noop")
    assert p.returncode == 3
    assert "-00249 TLS service disabled" in p.stderr
    assert b"secret" not in srv.join()


def test_native_tls(certs):
    srv = FakeCtrl(session(listing("over tls")), ctx=server_ctx(certs))
    p = ctl("-L", "-n", str(srv.port), "domainlist")
    assert (p.returncode, p.stdout) == (0, "over tls\n"), p.stderr
    assert srv.join() == LOGIN + b'"domainlist"\r\n' + QUIT


def test_native_tls_against_plain_server():
    srv = FakeCtrl(session(ok))
    p = ctl("-L", "-t", "5", "-n", str(srv.port), "noop")
    assert p.returncode == 3
    assert "TLS handshake" in p.stderr
    srv.join()


def test_verified_tls_with_ca_file_and_name(certs):
    cert = certs["localhost"][0]
    srv = FakeCtrl(session(ok), ctx=server_ctx(certs))
    p = ctl("-L", "-X", cert, "-s", "localhost", "-n", str(srv.port),
            "noop")
    assert p.returncode == 0, p.stderr
    srv.join()
    # The same through the environment variable, with -D saying so.
    srv = FakeCtrl(session(ok), ctx=server_ctx(certs))
    p = ctl("-D", "-L", "-s", "127.0.0.1", "-n", str(srv.port), "noop",
            env={"CTRL_CA_FILE": cert})
    assert p.returncode == 0, p.stderr
    assert "certificate verified" in p.stderr
    srv.join()


def test_verified_tls_with_ca_path(certs, tmp_path):
    capath = tmp_path / "ca"
    capath.mkdir()
    pem = open(certs["localhost"][0]).read()
    # OpenSSL looks certificates up by subject hash: <hash>.0
    h = run_openssl_hash(certs["localhost"][0])
    (capath / (h + ".0")).write_text(pem)
    srv = FakeCtrl(session(ok), ctx=server_ctx(certs))
    p = ctl("-L", "-H", str(capath), "-s", "localhost", "-n",
            str(srv.port), "noop")
    assert p.returncode == 0, p.stderr
    srv.join()


def run_openssl_hash(cert):
    return subprocess.run(["openssl", "x509", "-noout", "-subject_hash",
                           "-in", cert], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_untrusted_certificate_fails(certs):
    srv = FakeCtrl(session(ok), ctx=server_ctx(certs, "other"))
    p = ctl("-L", "-X", certs["localhost"][0], "-n", str(srv.port),
            "noop")
    assert p.returncode == 3
    assert "server certificate not trusted" in p.stderr
    assert b"secret" not in srv.join()


def test_host_name_mismatch_fails(certs):
    # "other" is a valid, trusted certificate, but not for "localhost".
    srv = FakeCtrl(session(ok), ctx=server_ctx(certs, "other"))
    p = ctl("-L", "-X", certs["other"][0], "-s", "localhost",
            "-n", str(srv.port), "noop")
    assert p.returncode == 3
    assert "not trusted: hostname mismatch" in p.stderr
    assert srv.join() == b""


def test_unverified_by_default(certs):
    srv = FakeCtrl(session(ok), ctx=server_ctx(certs, "other"))
    p = ctl("-L", "-s", "localhost", "-n", str(srv.port), "noop")
    assert p.returncode == 0, p.stderr
    srv.join()


def test_client_certificate(certs, client_cert, tmp_path):
    cert, key = client_cert
    ctx = server_ctx(certs)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cert)
    srv = FakeCtrl(session(ok), ctx=ctx)
    p = ctl("-L", "-K", key, "-C", cert, "-n", str(srv.port), "noop")
    assert p.returncode == 0, p.stderr
    srv.join()
    assert dict(x[0] for x in srv.peer_cert["subject"]) == {
        "commonName": "admin"}
    # The same from the environment.
    srv = FakeCtrl(session(ok), ctx=ctx)
    p = ctl("-L", "-n", str(srv.port), "noop",
            env={"CTRL_KEY_FILE": key, "CTRL_CERT_FILE": cert})
    assert p.returncode == 0, p.stderr
    srv.join()
    assert srv.peer_cert is not None
    # Without one, this server refuses the handshake.
    srv = FakeCtrl(session(ok), ctx=ctx)
    p = ctl("-L", "-n", str(srv.port), "noop")
    assert p.returncode == 3
    srv.join()
    # A key that does not match the certificate, a missing CA file:
    # refused before connecting (nobody listens on the port any more).
    p = ctl("-L", "-K", certs["localhost"][1], "-C", cert, "-n",
            str(srv.port), "noop")
    assert p.returncode == 1
    assert certs["localhost"][1] + ": " in p.stderr
    p = ctl("-S", "-X", str(tmp_path / "none.pem"), "-n", str(srv.port),
            "noop")
    assert p.returncode == 1
    assert "none.pem: " in p.stderr


# ======================================================== the real server

ADMIN_PW = "Secr3t"
FROZEN = "1700000000.1234.5678.1.host"
FROZEN_BODY = b"Subject: frozen\r\n\r\n.leading dot\r\nbye\r\n"
FROZEN_SLOG = (b"[PeekTime] 1700000000 : x\r\n<<\r\nErrString = no route"
               b"\r\n>>\r\n")
BAD_SYNTAX = "postroom ctl: -00103 Bad CTRL command syntax\n"
BAD_PATH = "postroom ctl: -00214 Error in relative path syntax\n"


def write_frozen(root, l1=1, l2=2):
    """A frozen spool file and its slog, as the queue leaves them."""
    b = root / "spool" / str(l1) / str(l2)
    for d in ("froz", "slog"):
        (b / d).mkdir(parents=True, exist_ok=True)
    (b / "froz" / FROZEN).write_bytes(
        b"[127.0.0.1]:40000;[127.0.0.1]:25;Mon, 1 Jan 2024 10:00:00 +0000"
        b"\r\nexample.test\r\nS2A\r\nMAIL FROM:<alice@example.test>\r\n"
        b"RCPT TO:<dave@remote.test>\r\n<<MAIL-DATA>>\r\n" + FROZEN_BODY)
    (b / "slog" / FROZEN).write_bytes(FROZEN_SLOG)


@pytest.fixture
def live(tmp_path, start_server):
    """A running server with the CTRL account admin, no login delay, and
    one frozen message."""
    root = init_mailroot(tmp_path / "MailRoot",
                         extra=["--admin", "admin:" + ADMIN_PW])
    with open(root / "server.tab", "a") as f:
        f.write('"CtrlLoginDelay"\t"0"\n')
    write_frozen(root)
    return start_server(root)


def x(srv, *args, input=None, env=None):
    """`postroom ctl` against srv, the account from the environment."""
    e = {"POSTROOM_CTRL_PORT": str(srv.ports["ctrl"]),
         "POSTROOM_CTRL_USER": "admin",
         "POSTROOM_CTRL_PASSWORD": ADMIN_PW}
    e.update(env or {})
    return ctl(*args, input=input, env=e, user=None, password=None)


def ok_out(p):
    """stdout of a successful run."""
    assert (p.returncode, p.stderr) == (0, ""), p.stderr
    return p.stdout


def refused(p, text):
    """A command the server refused with `text` ("-00012 User not found")."""
    assert (p.returncode, p.stdout, p.stderr) == (
        1, "", "postroom ctl: %s\n" % text)


def records(path):
    """The records of a TAB file as lists of unquoted fields."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        out.append([f[1:-1].replace('\\"', '"') if f.startswith('"')
                    else f for f in line.split("\t") if f])
    return out


def test_live_login_and_noop(live):
    assert ok_out(x(live, "noop")) == ""
    p = x(live, "-D", "NOOP")                           # any case
    assert (p.returncode, p.stdout) == (0, "")
    assert 'C: "NOOP"\nS: +00000 OK\nC: "quit"\n' in p.stderr
    p = x(live, "noop", env={"POSTROOM_CTRL_PASSWORD": "wrong"})
    assert (p.returncode, p.stdout) == (4, "")
    assert p.stderr == "postroom ctl: -00105 Bad controller login\n"
    p = x(live, "noop", env={"POSTROOM_CTRL_USER": "nobody"})
    assert p.returncode == 4
    # The clear-text login (-c) is refused before TLS by default, and
    # works inside TLS.
    p = x(live, "-c", "noop")
    assert (p.returncode, p.stderr) == (
        4, "postroom ctl: -00105 Bad controller login\n")
    assert ok_out(x(live, "-c", "-S", "noop")) == ""


def test_live_bad_commands(live):
    for args in (["nosuchcommand"], ["noop", "extra"], ["useradd"],
                 ["useradd", DOMAIN, "carol", "pw"], ["userdel", DOMAIN],
                 ["cfgfileget"], ["frozdel", "0", "0"]):
        p = x(live, *args)
        assert (p.returncode, p.stdout, p.stderr) == (1, "", BAD_SYNTAX), \
            args


def test_live_users(live):
    root = live.root
    assert ok_out(x(live, "useradd", DOMAIN, "carol", "Ca+rol 1", "U")) == ""
    rec = [r for r in records(root / "mailusers.tab") if r[1] == "carol"]
    assert len(rec) == 1 and rec[0][0] == DOMAIN and rec[0][-1] == "U"
    assert run("passwd", "verify", rec[0][2], "Ca+rol 1",
               check=False).returncode == 0
    assert (root / "domains" / DOMAIN / "carol").is_dir()
    refused(x(live, "useradd", DOMAIN, "Carol", "x", "U"),
            "-00013 User already exist")
    refused(x(live, "useradd", "nowhere.test", "carol", "x", "U"),
            "-00059 POP3 domain not handled")

    out = ok_out(x(live, "userlist", DOMAIN))
    names = sorted(l.split("\t")[1] for l in out.splitlines())
    assert names == ['"alice"', '"bob"', '"carol"']
    out = ok_out(x(live, "userlist", "*", "c*"))
    assert out.splitlines() == ['"%s"\t"carol"\t""\t"U"' % DOMAIN]
    assert ok_out(x(live, "userlist", "other.*")) == ""

    assert ok_out(x(live, "userauth", DOMAIN, "carol", "Ca+rol 1")) == ""
    refused(x(live, "userauth", DOMAIN, "carol", "nope"),
            "-00024 Invalid password")
    assert ok_out(x(live, "userpasswd", DOMAIN, "carol", 'n"ew')) == ""
    assert ok_out(x(live, "userauth", DOMAIN, "carol", 'n"ew')) == ""
    refused(x(live, "userauth", DOMAIN, "carol", "Ca+rol 1"),
            "-00024 Invalid password")
    refused(x(live, "userpasswd", DOMAIN, "nobody", "x"),
            "-00012 User not found")

    out = ok_out(x(live, "userstat", DOMAIN, "carol"))
    stat = dict(l.replace('"', "").split("\t") for l in out.splitlines())
    assert stat["RealAddress"] == "carol@" + DOMAIN
    assert stat["MailboxSize"] == "0" and stat["MailboxMessages"] == "0"
    assert {"LastLoginIP", "LastLoginTimeDate"} <= set(stat)
    refused(x(live, "userstat", DOMAIN, "nobody"), "-00012 User not found")

    assert ok_out(x(live, "userdel", DOMAIN, "carol")) == ""
    assert not (root / "domains" / DOMAIN / "carol").exists()
    assert all(r[1] != "carol" for r in records(root / "mailusers.tab"))
    refused(x(live, "userdel", DOMAIN, "carol"), "-00012 User not found")


def test_live_user_path_traversal(live):
    for name in ("../../etc", "a/b", ".."):
        p = x(live, "useradd", DOMAIN, name, "pw", "U")
        assert p.returncode == 1 and p.stderr.startswith("postroom ctl: -")
    p = x(live, "useradd", "../..", "x", "pw", "U")
    assert p.returncode == 1
    assert not (live.root.parent / "x").exists()
    assert not (live.root / "x").exists()


def test_live_uservars(live):
    out = ok_out(x(live, "uservars", DOMAIN, "alice"))
    assert '"MaxMBSize"\t' in out
    assert ok_out(x(live, "uservarsset", DOMAIN, "alice", "RealName",
                    "Alice Liddell", "MaxMBSize", "1234")) == ""
    out = ok_out(x(live, "uservars", DOMAIN, "alice")).splitlines()
    assert '"RealName"\t"Alice Liddell"' in out
    assert '"MaxMBSize"\t"1234"' in out
    user_tab = live.root / "domains" / DOMAIN / "alice" / "user.tab"
    assert ["RealName", "Alice Liddell"] in records(user_tab)
    assert ok_out(x(live, "uservarsset", DOMAIN, "alice", "RealName",
                    ".|rm")) == ""
    assert "RealName" not in ok_out(x(live, "uservars", DOMAIN, "alice"))
    assert all(r[0] != "RealName" for r in records(user_tab))
    refused(x(live, "uservars", DOMAIN, "nobody"), "-00012 User not found")
    p = x(live, "uservarsset", DOMAIN, "alice", "OddCount")
    assert (p.returncode, p.stderr) == (1, BAD_SYNTAX)


def test_live_mailproc(live):
    udir = live.root / "domains" / DOMAIN / "alice"
    refused(x(live, "usergetmproc", DOMAIN, "alice"),
            "-00116 User mail processing file not present")
    data = '"mailbox"\n.starts with a dot\n..two dots\n'
    assert ok_out(x(live, "usersetmproc", DOMAIN, "alice",
                    input=data)) == ""
    assert (udir / "mailproc.tab").read_text() == data
    assert ok_out(x(live, "usergetmproc", DOMAIN, "alice", "U")) == data
    dom = '"redirect"\t"archive@example.test"\n'
    assert ok_out(x(live, "usersetmproc", DOMAIN, "alice", "D",
                    input=dom)) == ""
    assert (live.root / "domains" / DOMAIN / "mailproc.tab").read_text() \
        == dom
    assert ok_out(x(live, "usergetmproc", DOMAIN, "alice", "D")) == dom
    # The default is the merge, the domain's file first.
    assert ok_out(x(live, "usergetmproc", DOMAIN, "alice")) == dom + data
    # A zero-length upload deletes the file.
    assert ok_out(x(live, "usersetmproc", DOMAIN, "alice", input="")) == ""
    assert not (udir / "mailproc.tab").exists()
    p = x(live, "usersetmproc", DOMAIN, "nobody", input="x\n")
    refused(p, "-00012 User not found")


def test_live_aliases(live):
    root = live.root
    assert ok_out(x(live, "aliasadd", DOMAIN, "sales", "alice")) == ""
    assert [DOMAIN, "sales", "alice"] in records(root / "aliases.tab")
    refused(x(live, "aliasadd", DOMAIN, "sales", "bob"),
            "-00026 Alias already exist")
    # As XMail: the account must exist, and no account may have the name.
    refused(x(live, "aliasadd", "nowhere.test", "sales", "bob"),
            "-00012 User not found")
    refused(x(live, "aliasadd", DOMAIN, "sales2", "nobody"),
            "-00012 User not found")
    refused(x(live, "aliasadd", DOMAIN, "alice", "bob"),
            "-00013 User already exist")
    assert ok_out(x(live, "aliasadd", DOMAIN, "support", "bob")) == ""
    out = ok_out(x(live, "aliaslist", DOMAIN, "s*")).splitlines()
    assert sorted(out) == ['"%s"\t"sales"\t"alice"' % DOMAIN,
                           '"%s"\t"support"\t"bob"' % DOMAIN]
    out = ok_out(x(live, "aliaslist", "*", "*", "bob")).splitlines()
    assert '"%s"\t"support"\t"bob"' % DOMAIN in out
    assert '"%s"\t"sales"\t"alice"' % DOMAIN not in out
    assert '"sales"' in ok_out(x(live, "aliaslist"))
    assert ok_out(x(live, "aliasdel", DOMAIN, "sales")) == ""
    assert [DOMAIN, "sales", "alice"] not in records(root / "aliases.tab")
    refused(x(live, "aliasdel", DOMAIN, "sales"), "-00028 Alias not found")


def test_live_external_aliases(live):
    root = live.root
    assert ok_out(x(live, "exaliasadd", "alice@" + DOMAIN,
                    "alice@remote.test")) == ""
    assert ["remote.test", "alice", DOMAIN, "alice"] in records(
        root / "extaliases.tab")
    refused(x(live, "exaliasadd", "bob@" + DOMAIN, "alice@remote.test"),
            "-00067 External alias already exist")
    assert ok_out(x(live, "exaliaslist", "*@" + DOMAIN)) == \
        '"remote.test"\t"alice"\t"%s"\t"alice"\n' % DOMAIN
    assert ok_out(x(live, "exaliaslist", "*@other.test")) == ""
    assert ok_out(x(live, "exaliasdel", "alice@remote.test")) == ""
    assert records(root / "extaliases.tab") == []
    refused(x(live, "exaliasdel", "alice@remote.test"),
            "-00069 External alias not found")


def test_live_mailing_lists(live):
    root = live.root
    assert ok_out(x(live, "useradd", DOMAIN, "team", "pw", "M")) == ""
    assert ok_out(x(live, "mluseradd", DOMAIN, "team", "a@x.test")) == ""
    assert ok_out(x(live, "mluseradd", DOMAIN, "team", "b@x.test",
                    "R")) == ""
    refused(x(live, "mluseradd", DOMAIN, "team", "a@x.test"),
            "-00052 Mailing list user already exist")
    assert ok_out(x(live, "mluserlist", DOMAIN, "team")).splitlines() == [
        '"a@x.test"\t"RW"', '"b@x.test"\t"R"']
    assert records(root / "domains" / DOMAIN / "team" / "mlusers.tab") == [
        ["a@x.test", "RW"], ["b@x.test", "R"]]
    assert ok_out(x(live, "mluserdel", DOMAIN, "team", "a@x.test")) == ""
    refused(x(live, "mluserdel", DOMAIN, "team", "a@x.test"),
            "-00053 Mailing list user not found")
    refused(x(live, "mluseradd", DOMAIN, "alice", "c@x.test"),
            "-00050 User is not a mailing list")
    refused(x(live, "mluserlist", DOMAIN, "nobody"),
            "-00012 User not found")


def test_live_domains(live):
    root = live.root
    assert ok_out(x(live, "domainadd", "new.test")) == ""
    assert ["new.test"] in records(root / "domains.tab")
    assert (root / "domains" / "new.test").is_dir()
    refused(x(live, "domainadd", "NEW.test"), "-00231 Already exist")
    p = x(live, "domainadd", "../evil")
    assert p.returncode == 1 and p.stderr.startswith("postroom ctl: -")
    assert not (root / "evil").exists()
    assert ok_out(x(live, "domainlist")).splitlines() == [
        '"%s"' % DOMAIN, '"new.test"']
    assert ok_out(x(live, "domainlist", "n*", "zz*")) == '"new.test"\n'
    assert ok_out(x(live, "useradd", "new.test", "dan", "pw", "U")) == ""
    assert ok_out(x(live, "domaindel", "new.test")) == ""
    assert not (root / "domains" / "new.test").exists()
    assert all(r[0] != "new.test" for r in records(root / "mailusers.tab"))
    refused(x(live, "domaindel", "new.test"),
            "-00059 POP3 domain not handled")


def test_live_alias_domains(live):
    root = live.root
    assert ok_out(x(live, "aliasdomainadd", DOMAIN, "alias.test")) == ""
    assert ok_out(x(live, "aliasdomainadd", DOMAIN, "*.example.test")) == ""
    assert ["alias.test", DOMAIN] in records(root / "aliasdomain.tab")
    refused(x(live, "aliasdomainadd", DOMAIN, "alias.test"),
            "-00205 Domain alias already exist")
    refused(x(live, "aliasdomainadd", "nowhere.test", "a2.test"),
            "-00059 POP3 domain not handled")
    assert ok_out(x(live, "aliasdomainlist")).splitlines() == [
        '"%s"\t"alias.test"' % DOMAIN, '"%s"\t"*.example.test"' % DOMAIN]
    assert ok_out(x(live, "aliasdomainlist", "*", "al*")) == \
        '"%s"\t"alias.test"\n' % DOMAIN
    assert ok_out(x(live, "aliasdomaindel", "alias.test")) == ""
    refused(x(live, "aliasdomaindel", "alias.test"),
            "-00206 Domain alias not found")
    assert ["alias.test", DOMAIN] not in records(root / "aliasdomain.tab")


def test_live_custom_domains(live):
    path = live.root / "custdomains" / "cust.test.tab"
    refused(x(live, "custdomget", "cust.test"), "-00120 Not a custom domain")
    data = '"mailbox"\n.dot line\n'
    assert ok_out(x(live, "custdomset", "cust.test", input=data)) == ""
    assert path.read_text() == data
    assert ok_out(x(live, "custdomget", "cust.test")) == data
    assert ok_out(x(live, "custdomlist")) == '"cust.test"\n'
    assert ok_out(x(live, "custdomset", "cust.test", input="")) == ""
    assert not path.exists()
    assert ok_out(x(live, "custdomlist")) == ""
    p = x(live, "custdomset", "../../escape", input="x\n")
    assert p.returncode == 1 and p.stderr.startswith("postroom ctl: -")
    assert not (live.root.parent / "escape.tab").exists()


def test_live_pop3_links(live):
    root = live.root
    link = [DOMAIN, "alice", "pop.remote.test", "ruser"]
    assert ok_out(x(live, "poplnkadd", *link, "rpass", "CLR")) == ""
    rec = records(root / "pop3links.tab")
    assert len(rec) == 1 and rec[0][:4] == link and rec[0][5] == "CLR"
    assert "rpass" not in (root / "pop3links.tab").read_text()
    refused(x(live, "poplnkadd", *link, "rpass", "CLR"),
            "-00044 POP3 link already exist")
    out = ok_out(x(live, "poplnklist", DOMAIN, "alice")).splitlines()
    assert len(out) == 1
    f = out[0].split("\t")
    assert f[:4] == ['"%s"' % v for v in link] and f[5:] == ['"CLR"', '"ON"']
    assert ok_out(x(live, "poplnkenable", "0", *link)) == ""
    assert ok_out(x(live, "poplnklist")).rstrip().endswith('"OFF"')
    assert ok_out(x(live, "poplnkenable", "1", DOMAIN, "alice")) == ""
    assert ok_out(x(live, "poplnklist", DOMAIN)).rstrip().endswith('"ON"')
    assert ok_out(x(live, "poplnklist", "other.test")) == ""
    assert ok_out(x(live, "poplnkdel", *link)) == ""
    assert records(root / "pop3links.tab") == []
    refused(x(live, "poplnkdel", *link), "-00046 POP3 link not found")


def test_live_files(live, tmp_path):
    root = live.root
    out = ok_out(x(live, "filelist", "", "smtp*.tab")).splitlines()
    assert '"smtprelay.tab"\t"%d"' % (root / "smtprelay.tab").stat(
    ).st_size in out
    assert all(l.startswith('"smtp') for l in out)
    refused(x(live, "filelist", "nonexistent", "*"),
            "-00211 Listing directory not found")
    assert ok_out(x(live, "cfgfileget", "smtprelay.tab")) == \
        (root / "smtprelay.tab").read_text()
    data = '"192.0.2.0"\t"255.255.255.0"\n.dot\n..dots\n'
    assert ok_out(x(live, "cfgfileset", "smtprelay.tab", input=data)) == ""
    assert (root / "smtprelay.tab").read_text() == data
    # -f: the upload comes from the file, the listing goes to the file.
    src = tmp_path / "up.tab"
    src.write_text('"10.0.0.0/8"\n')
    assert ok_out(x(live, "-f", str(src), "cfgfileset", "smtprelay.tab",
                    input="ignored\n")) == ""
    dump = tmp_path / "dump.tab"
    assert ok_out(x(live, "-f", str(dump), "cfgfileget",
                    "smtprelay.tab")) == ""
    assert dump.read_text() == '"10.0.0.0/8"\n'
    # A zero-length upload deletes the file.
    assert ok_out(x(live, "cfgfileset", "smtprelay.tab", input="")) == ""
    assert not (root / "smtprelay.tab").exists()
    refused(x(live, "cfgfileget", "smtprelay.tab"),
            "-00019 Unable to open file")


def test_live_file_path_traversal(live, tmp_path):
    root = live.root
    outside = tmp_path / "outside.txt"
    outside.write_text("secret outside\n")
    (root / "link.tab").symlink_to(outside)
    for path in ("../../etc/passwd", "/etc/passwd", "../outside.txt",
                 "domains/../../outside.txt", "link.tab"):
        p = x(live, "cfgfileget", path)
        assert (p.returncode, p.stdout, p.stderr) == (1, "", BAD_PATH), path
    for path in ("../escape.tab", "/tmp/escape.tab", "link.tab"):
        p = x(live, "cfgfileset", path, input="owned\n")
        assert (p.returncode, p.stderr) == (1, BAD_PATH), path
    assert not (root.parent / "escape.tab").exists()
    assert outside.read_text() == "secret outside\n"
    p = x(live, "filelist", "../..", "*")
    assert (p.returncode, p.stdout, p.stderr) == (1, "", BAD_PATH)


def test_live_frozen(live):
    root = live.root
    out = ok_out(x(live, "frozlist")).splitlines()
    assert len(out) == 1
    f = [v.strip('"') for v in out[0].split("\t")]
    size = (root / "spool/1/2/froz" / FROZEN).stat().st_size
    assert f[:5] == [FROZEN, "1", "2", "<alice@example.test>",
                     "<dave@remote.test>"]
    assert len(f[5]) == 19 and f[6] == str(size)
    loc = ["1", "2", FROZEN]
    assert ok_out(x(live, "frozgetlog", *loc)).encode() == \
        FROZEN_SLOG.replace(b"\r\n", b"\n")
    msg = ok_out(x(live, "frozgetmsg", *loc))
    assert msg.endswith("Subject: frozen\n\n.leading dot\nbye\n")
    for bad in (["9", "2", FROZEN], ["1", "2", "../../x"],
                ["1", "2", "nothere"], ["a", "2", FROZEN]):
        refused(x(live, "frozgetmsg", *bad), "-00055 Invalid spool file")
    assert ok_out(x(live, "frozsubmit", *loc)) == ""
    assert not (root / "spool/1/2/froz" / FROZEN).exists()
    assert ok_out(x(live, "frozlist")) == ""
    refused(x(live, "frozsubmit", *loc), "-00055 Invalid spool file")


def test_live_frozdel(live):
    root = live.root
    assert ok_out(x(live, "frozdel", "1", "2", FROZEN)) == ""
    assert not (root / "spool/1/2/froz" / FROZEN).exists()
    assert not (root / "spool/1/2/slog" / FROZEN).exists()
    refused(x(live, "frozdel", "1", "2", FROZEN), "-00055 Invalid spool file")


def test_live_etrn(live):
    start = len(live.log())
    assert ok_out(x(live, "etrn", "*@*.remote.test", "other.test")) == ""
    live.wait_log("flush '*@*.remote.test' requested", start=start)
    live.wait_log("flush 'other.test' requested", start=start)
    p = x(live, "etrn")
    assert (p.returncode, p.stderr) == (1, BAD_SYNTAX)


def test_live_mxbackup(live):
    root = live.root
    assert ok_out(x(live, "mxbackupadd", "backup.test")) == ""
    assert ok_out(x(live, "mxbackupadd", "b2.test", "HOST")) == ""
    assert records(root / "mxbackup.tab") == [["backup.test", "DOMAIN"],
                                              ["b2.test", "HOST"]]
    refused(x(live, "mxbackupadd", "backup.test"), "-00231 Already exist")
    refused(x(live, "mxbackupadd", "b3.test", "BOGUS"),
            "-00230 Invalid parameter")
    refused(x(live, "mxbackupadd", DOMAIN), "-00104 Domain already exist")
    assert ok_out(x(live, "mxbackuplist")).splitlines() == [
        '"backup.test"\t"DOMAIN"', '"b2.test"\t"HOST"']
    assert ok_out(x(live, "mxbackuplist", "b2*")) == '"b2.test"\t"HOST"\n'
    assert ok_out(x(live, "mxbackupdel", "backup.test")) == ""
    refused(x(live, "mxbackupdel", "backup.test"), "-00246 Not found")
    assert records(root / "mxbackup.tab") == [["b2.test", "HOST"]]


def test_live_tls(live):
    cert = str(live.root / "server.cert")
    assert ok_out(x(live, "-S", "domainlist")) == '"%s"\n' % DOMAIN
    ctrls = {"POSTROOM_CTRL_PORT": str(live.ports["ctrls"])}
    assert ok_out(x(live, "-L", "domainlist", env=ctrls)) == \
        '"%s"\n' % DOMAIN
    # -n wins over POSTROOM_CTRL_PORT.
    p = x(live, "-D", "-L", "-n", str(live.ports["ctrls"]), "noop")
    assert p.returncode == 0 and "certificate not verified" in p.stderr
    # Verified against the server's own (self-signed) certificate.
    p = x(live, "-D", "-L", "-X", cert, "noop", env=ctrls)
    assert p.returncode == 0 and "certificate verified" in p.stderr
    p = x(live, "-S", "-X", cert, "noop")
    assert p.returncode == 0, p.stderr
    # The certificate is for example.test, not for localhost.
    p = x(live, "-L", "-X", cert, "-s", "localhost", "noop", env=ctrls)
    assert p.returncode == 3
    assert "hostname mismatch" in p.stderr
    # Plain CTRL on the CTRLS port: no greeting in clear.
    p = x(live, "-t", "2", "noop", env=ctrls)
    assert p.returncode == 3


def test_live_password_file_and_dump(live, tmp_path):
    pw = tmp_path / "ctrl.pw"
    pw.write_text(ADMIN_PW + "\n")
    dump = tmp_path / "users.txt"
    p = ctl("-n", str(live.ports["ctrl"]), "-u", "admin",
            "--password-file", str(pw), "-f", str(dump), "userlist",
            password=None, user=None)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    assert sorted(dump.read_text().splitlines()) == [
        '"%s"\t"alice"\t""\t"U"' % DOMAIN, '"%s"\t"bob"\t""\t"U"' % DOMAIN]
    p = x(live, "noop", env={"POSTROOM_CTRL_PASSWORD": "",
                             "POSTROOM_CTRL_PASSWORD_FILE": str(pw)})
    assert p.returncode == 0, p.stderr
