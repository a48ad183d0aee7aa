"""Shared helpers of the benchmarks (bench/smtp-accept, bench/smtp-idle,
bench/smtps-handshake, bench/pop3-retr).

Everything here talks to 127.0.0.1 only and every wait is bounded.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


class BenchError(Exception):
    pass


def die_on_signals():
    """Turn SIGTERM/SIGHUP into SystemExit so `finally` blocks clean up."""
    def handler(signum, _frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def quick():
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_banner(port, timeout=2.0):
    """Connect, read the greeting, QUIT.  Returns the greeting line."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = b""
        while b"\n" not in data:
            chunk = s.recv(512)
            if not chunk:
                break
            data += chunk
        try:
            s.sendall(b"QUIT\r\n")
            s.recv(512)
        except OSError:
            pass
    return data.decode("latin-1").strip()


def wait_smtp(port, seconds, what):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            line = smtp_banner(port)
            if line.startswith("220"):
                return line
            last = line
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise BenchError("%s: no SMTP greeting on 127.0.0.1:%d within %ds (%s)"
                     % (what, port, seconds, last))


def proc_status(pid):
    """Selected fields of /proc/PID/status as ints (kB for Vm*)."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "VmSize", "Threads"):
                out[k] = int(v.split()[0])
    return out


def proc_cpu_seconds(pid):
    """utime+stime of a process (all threads), seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


class CpuMeter:
    """Whole-machine CPU use between start() and stop(), from /proc/stat."""

    @staticmethod
    def _read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal ...
        busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
        return busy, v[3], v[4]

    def start(self):
        self.t0 = self._read()

    def stop(self):
        t1 = self._read()
        busy, idle, iow = (b - a for a, b in zip(self.t0, t1))
        total = max(1, busy + idle + iow)
        ncpu = os.cpu_count() or 1
        # Fractions of the whole machine, and busy cores.
        return {"busy": busy / total, "iowait": iow / total,
                "cores_busy": ncpu * busy / total}


_SERVE_HELP = {}


def serve_knows(binary, option):
    """Whether `binary serve --help` lists option (e.g. "-U-")."""
    if binary not in _SERVE_HELP:
        try:
            r = subprocess.run([binary, "serve", "--help"],
                               stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=10)
            _SERVE_HELP[binary] = r.stdout + r.stderr
        except (OSError, subprocess.TimeoutExpired):
            _SERVE_HELP[binary] = ""
    return any(w == option for w in _SERVE_HELP[binary].split())


def set_server_vars(root, values):
    """Set (replace or add) variables in MailRoot/server.tab."""
    path = os.path.join(root, "server.tab")
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines()
                 if not any(ln.startswith('"%s"' % k) for k in values)]
    for k, v in values.items():
        lines.append('"%s"\t"%s"' % (k, v))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def median(values):
    v = sorted(values)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


class Postroom:
    """A postroom server on a throwaway MailRoot with one account u@bench.test.
    """

    def __init__(self, binary, extra_args=(), split=23, tag="postroom",
                 tmpdir="/tmp", enable=(), server_vars=None):
        """enable: service letters to leave on besides SMTP (e.g. "X" for
        SMTPS, "P" for POP3); every other service (finger, POP3, POP3S,
        CTRL, CTRLS, SMTPS, submission) is disabled.  Their -xp/-xI options
        go in extra_args.  server_vars: {name: value} set in server.tab
        before the server starts."""
        self.binary = os.path.abspath(binary)
        if not os.access(self.binary, os.X_OK):
            raise BenchError("%s not found; run `make build`" % binary)
        self.tmp = tempfile.mkdtemp(prefix="postroom-bench-", dir=tmpdir)
        self.root = os.path.join(self.tmp, "MailRoot")
        self.port = None
        self.proc = None
        self.extra = list(extra_args)
        self.split = split
        self.log_path = os.path.join(self.tmp, "postroom.log")
        self.tag = tag
        self.enable = set(enable)
        self.server_vars = dict(server_vars or {})

    @property
    def maildir_new(self):
        return os.path.join(self.root, "domains", "bench.test", "u",
                            "Maildir", "new")

    def start(self, preexec_fn=None):
        subprocess.run([self.binary, "init", "--domain", "bench.test",
                        "--split", str(self.split), "--user", "u:p",
                        self.root], check=True, stdout=subprocess.DEVNULL)
        self.no_quota()
        if self.server_vars:
            set_server_vars(self.root, self.server_vars)
        self.port = free_port()
        env = dict(os.environ, XMAIL_PID_DIR=self.tmp)
        env.pop("MAIL_CMD_LINE", None)
        off = ["-%s-" % c for c in "FPBCWXU" if c not in self.enable]
        if "-U-" in off and not serve_knows(self.binary, "-U-"):
            off.remove("-U-")           # a binary without submission
        args = [self.binary, "serve", "-Ms", self.root,
                "-Sp", str(self.port), "-SI", "127.0.0.1"] + off + self.extra
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     env=env, preexec_fn=preexec_fn)
        try:
            wait_smtp(self.port, 15, self.tag)
        except BenchError:
            if self.proc.poll() is not None:
                raise BenchError("postroom exited with status %s; log: %s"
                                 % (self.proc.returncode, self.tail_log()))
            raise
        return self

    def no_quota(self):
        """MaxMBSize 0 (no limit) for u@bench.test: init's default of
        10000 KB holds only ~2300 messages of 4 KiB, and Postfix's Maildir
        delivery has no quota either."""
        path = os.path.join(self.root, "domains", "bench.test", "u",
                            "user.tab")
        with open(path) as f:
            lines = [ln for ln in f.read().splitlines()
                     if not ln.startswith('"MaxMBSize"')]
        lines.append('"MaxMBSize"\t"0"')
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def tail_log(self, n=5):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return " | ".join(lines[-n:])
        except OSError:
            return "(no log)"

    def log_problems(self):
        """Lines of the server log that are not INFO/DEBUG."""
        out = []
        try:
            with open(self.log_path, "rb") as f:
                for raw in f:
                    line = raw.decode("utf-8", "replace").rstrip()
                    if " INFO: " in line or " DEBUG: " in line:
                        continue
                    out.append(line)
        except OSError:
            pass
        return out

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None:
            self.log.close()

    def cleanup(self, keep=None):
        """Stop the server and remove its files, or append the directory to
        the list `keep` for the caller to remove later."""
        try:
            self.stop()
        finally:
            if keep is not None:
                keep.append(self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


def wait_quiet(max_wait=30.0, threshold=0.10):
    """Wait (bounded) until other processes use under `threshold` of the
    machine for half a second.  Returns the last measured fraction."""
    deadline = time.monotonic() + max_wait
    while True:
        m = CpuMeter()
        m.start()
        time.sleep(0.5)
        busy = m.stop()["busy"]
        if busy < threshold or time.monotonic() > deadline:
            return busy


def count_dir(path):
    try:
        with os.scandir(path) as it:
            return sum(1 for _ in it)
    except FileNotFoundError:
        return 0
