"""Shared fixtures: a temporary MailRoot and a running `postroom serve`.

Every integration test talks to the real binary named by $POSTROOM_BIN (the
sanitizer build under `make test`) on 127.0.0.1 with ephemeral ports.
"""
import os
import signal
import socket
import ssl
import subprocess
import time

import pytest

import peers

POSTROOM = os.environ.get("POSTROOM_BIN")
DOMAIN = "example.test"
USERS = {"alice": "secret", "bob": "hunter2"}

# Services and their port options; every one gets a free port.
SERVICES = {
    "smtp": "-S", "smtps": "-X", "pop3": "-P", "pop3s": "-B",
    "finger": "-F", "ctrl": "-C", "ctrls": "-W", "submission": "-U",
}

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:")


def pytest_collection_modifyitems(config, items):
    if POSTROOM is None:
        skip = pytest.mark.skip(reason="POSTROOM_BIN is not set")
        for item in items:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now (and
    that no other server or peer of this run was given)."""
    return peers.free_port()


def run(*args, check=True, input=None, env=None):
    """Run the postroom binary with arguments; returns CompletedProcess."""
    p = subprocess.run([POSTROOM, *args], capture_output=True, text=True,
                       input=input, env=env, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("postroom %s failed (%d):\n%s%s" % (
            " ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def maildir_new(root, user, domain=DOMAIN):
    """The Maildir/new directory of an account (of DOMAIN by default)."""
    return root / "domains" / domain / user / "Maildir" / "new"


def wait_messages(root, user, count, timeout=10, domain=DOMAIN):
    """Wait until the user's Maildir/new holds `count` messages (delivery
    is asynchronous); returns the contents of what is there by then."""
    deadline = time.monotonic() + timeout
    while True:
        d = maildir_new(root, user, domain)
        files = sorted(d.iterdir()) if d.is_dir() else []
        if len(files) >= count or time.monotonic() > deadline:
            return [f.read_bytes() for f in files]
        time.sleep(0.05)


def client_ctx():
    """A TLS client context that accepts the test servers' self-signed
    certificates."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def set_vars(root, **kv):
    """Append server.tab variables (the last definition wins; '_' in a
    name stands for '-'); returns root."""
    with open(root / "server.tab", "a") as f:
        for k, v in kv.items():
            f.write('"%s"\t"%s"\n' % (k.replace("_", "-"), v))
    return root


def init_mailroot(path, domain=DOMAIN, users=USERS, extra=()):
    args = ["init", "--domain", domain, "--split", "3"]
    for name, pw in users.items():
        args += ["--user", "%s:%s" % (name, pw)]
    run(*args, *extra, str(path))
    # Never ask the system resolver (tests stay on this machine): a DNS
    # "server" on the discard port refuses at once, so mail for other
    # domains is deferred unless a test routes it.
    with open(os.path.join(str(path), "server.tab"), "a") as f:
        f.write('"SmartDNSHost"\t"127.0.0.1:9:udp"\n')
    return path


class Server:
    """A running `postroom serve` and what tests need to talk to it."""

    def __init__(self, root, workdir, extra=(), env=None):
        self.root = root
        self.workdir = workdir
        self.ports = {name: free_port() for name in SERVICES}
        self.logpath = workdir / ("serve-%d.log" % time.monotonic_ns())
        args = [POSTROOM, "serve", "-Ms", str(root), "--loops", "2",
                "--workers", "2"]
        for name, letter in SERVICES.items():
            args += [letter + "p", str(self.ports[name]),
                     letter + "I", "127.0.0.1"]
        args += list(extra)
        self.env = dict(os.environ)
        self.env["XMAIL_PID_DIR"] = str(workdir)
        self.env.pop("MAIL_ROOT", None)
        self.env.pop("MAIL_CMD_LINE", None)
        self.env.update(env or {})
        self.pidfile = workdir / "postroom.pid"
        self.log_fp = open(self.logpath, "w")
        self.proc = subprocess.Popen(args, stdout=self.log_fp,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env)

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited with %d:\n%s" % (
                    self.proc.returncode, self.log()))
            if "postroom ready" in self.log():
                return self
            time.sleep(0.05)
        raise AssertionError("server not ready:\n" + self.log())

    def log(self):
        if not self.log_fp.closed:
            self.log_fp.flush()
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=10, start=0):
        """Wait until `text` appears in the log after offset `start`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log()[start:]:
                return True
            time.sleep(0.05)
        raise AssertionError("%r not in log:\n%s" % (text, self.log()))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not exit:\n" + self.log())

    def stop(self):
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        rc = self.wait_exit()
        self.log_fp.close()
        return rc

    def sanitizer_errors(self):
        text = self.log()
        return [m for m in SANITIZER_MARKS if m in text]


@pytest.fixture
def mailroot(tmp_path):
    """A fresh MailRoot for example.test with the accounts alice and bob."""
    return init_mailroot(tmp_path / "MailRoot")


@pytest.fixture
def start_server(tmp_path, request):
    """Factory: start_server(root, *extra_args, env=None) -> ready Server.

    Servers still running at the end are stopped with SIGTERM; the test
    fails if one exits uncleanly or a sanitizer reported an error, and the
    server log is printed when the test failed.
    """
    servers = []

    def start(root, *extra, env=None, ready=True):
        srv = Server(root, tmp_path, extra, env)
        servers.append(srv)
        return srv.wait_ready() if ready else srv

    yield start
    problems = []
    for srv in servers:
        rc = srv.stop()
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            print("---- postroom log (%s) ----\n%s" % (srv.logpath,
                                                       srv.log()))
        if srv.sanitizer_errors():
            problems.append("sanitizer: %s\n%s" % (srv.sanitizer_errors(),
                                                   srv.log()))
        elif rc not in (0, getattr(srv, "expected_rc", 0)):
            problems.append("exit status %d\n%s" % (rc, srv.log()))
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def server(mailroot, start_server):
    """A running server on the default test MailRoot."""
    return start_server(mailroot)


def finger(port, query, timeout=10):
    """Send one raw finger query (RFC 1288) and return the whole reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(query if isinstance(query, bytes) else
                  query.encode() + b"\r\n")
        chunks = []
        while True:
            data = s.recv(4096)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)
