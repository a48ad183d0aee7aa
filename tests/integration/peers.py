"""Scripted SMTP/LMTP peers, a private dnsmasq and smtp-sink for the
outbound-delivery tests (test_relay.py).

SmtpPeer is a small asyncio SMTP/LMTP server running in a thread of its
own.  Every reply can be scripted per command (and per argument), and
every session is recorded: the raw bytes, the command lines, the read
chunks (to see pipelining), TLS, AUTH and the transactions with their
envelope and dot-unstuffed data.

    peer = SmtpPeer(host="127.0.0.2", caps=("PIPELINING", "8BITMIME"))
    peer.script("RCPT", "550 5.1.1 no such user", match="bad@")
    peer.start()
    ...
    peer.wait_messages(1)
    peer.stop()
"""
import asyncio
import base64
import hashlib
import hmac
import os
import random
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

DROP = object()         # script reply: close the connection, say nothing

DEFAULT_CAPS = ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES")
ALL_CAPS = ("PIPELINING", "8BITMIME", "SIZE 52428800", "STARTTLS",
            "CHUNKING", "SMTPUTF8", "DSN", "ENHANCEDSTATUSCODES",
            "AUTH PLAIN LOGIN CRAM-MD5")


def wait_for(cond, timeout=10, interval=0.05, what="condition"):
    """Poll cond() until it is true; returns its value or raises."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" %
                                 (timeout, what))
        time.sleep(interval)


# Ports handed out in this test run: the kernel may give the same free
# port twice in a row, and two listeners of one postroom on one port
# would share it silently (SO_REUSEPORT), so no port is handed out twice.
HANDED = set()


def free_port(hosts=("127.0.0.1",)):
    """A TCP port free on every address of hosts right now, never one
    handed out before in this run."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        ok = port not in HANDED
        for h in hosts:
            with socket.socket() as t:
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    t.bind((h, port))
                except OSError:
                    ok = False
                    break
        if ok:
            HANDED.add(port)
            return port
    raise AssertionError("no free port on %s" % (hosts,))


def free_udp_tcp_port(host="127.0.0.1"):
    """A port free for both UDP and TCP on host (for dnsmasq)."""
    for _ in range(100):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((host, 0))
        port = u.getsockname()[1]
        t = socket.socket()
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            if port in HANDED:
                continue
            t.bind((host, port))
            HANDED.add(port)
            return port
        except OSError:
            pass
        finally:
            t.close()
            u.close()
    raise AssertionError("no free UDP+TCP port")


_CERT = {}


def self_signed_cert(directory, cn="peer.test"):
    """(certfile, keyfile) of a self-signed certificate made by openssl;
    made once per directory."""
    key = (str(directory), cn)
    if key in _CERT:
        return _CERT[key]
    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, "peer-cert.pem")
    pkey = os.path.join(directory, "peer-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", pkey, "-out", cert, "-days", "2",
                    "-subj", "/CN=" + cn, "-addext",
                    "subjectAltName=DNS:" + cn],
                   check=True, capture_output=True, timeout=60)
    _CERT[key] = (cert, pkey)
    return cert, pkey


class Rule:
    def __init__(self, cmd, reply, match, times, delay, close):
        self.cmd = cmd.upper()
        self.reply = reply
        self.match = match.lower() if match else None
        self.times = times
        self.delay = delay
        self.close = close


class Txn:
    """One mail transaction as the peer saw it."""

    def __init__(self, mail_line):
        self.mail_line = mail_line      # the whole MAIL command line
        arg = mail_line[len("MAIL FROM:"):].strip()
        end = arg.find(">")
        self.mail_from = arg[1:end] if arg.startswith("<") else arg
        self.mail_params = arg[end + 1:].strip() if end >= 0 else ""
        self.rcpt_lines = []            # every RCPT line, accepted or not
        self.rcpts = []                 # addresses answered 2xx
        self.data = None                # bytes, dot-unstuffed, CRLF
        self.raw_data = None            # bytes as sent (before the dot)
        self.bdat = False
        self.final = []                 # reply lines after the data
        self.delivered = []             # recipients with a 2xx final reply

    @property
    def accepted(self):
        return bool(self.delivered)

    def __repr__(self):
        return "<Txn from=%r rcpts=%r delivered=%r>" % (
            self.mail_from, self.rcpts, self.delivered)


class Session:
    """One connection to the peer."""

    def __init__(self, local, remote):
        self.local = local              # (ip, port) the client reached
        self.remote = remote            # (ip, port) of the client
        self.raw = bytearray()          # everything received (TLS: clear)
        self.chunks = []                # every read, in order
        self.commands = []              # (line, chunk index)
        self.helo = None
        self.tls = False
        self.tls_failed = None
        self.auth = None                # dict(mech, user, password, ok)
        self.txns = []
        self.bare_lf = False
        self.starttls_injection = None  # bytes pipelined after STARTTLS
        self.tls_version = None
        self.closed = False
        self.start = time.monotonic()

    def cmd_lines(self):
        return [c for c, _ in self.commands]

    def verbs(self):
        return [c.split(" ", 1)[0].split(":", 1)[0].upper()
                for c, _ in self.commands]

    def __repr__(self):
        return "<Session %s tls=%s cmds=%r>" % (
            self.remote, self.tls, self.cmd_lines())


class _Eof(Exception):
    pass


class SmtpPeer:
    """A scripted SMTP (or LMTP) server in a background thread."""

    def __init__(self, host="127.0.0.1", port=None, caps=DEFAULT_CAPS,
                 lmtp=False, name="peer.test", certdir=None,
                 tls_mode="ok", auth_users=None, greeting=None):
        self.host = host
        self.port = port or free_port((host,))
        self.caps = list(caps)
        self.lmtp = lmtp
        self.name = name
        self.certdir = certdir
        self.tls_mode = tls_mode        # "ok" or "broken" (garbage)
        self.auth_users = dict(auth_users or {})
        self.greeting = greeting or "220 %s ESMTP scripted peer" % name
        self.rules = []
        self.sessions = []
        self.errors = []
        self.lock = threading.Lock()
        self.loop = None
        self.thread = None
        self.server = None
        self.tasks = set()
        self.max_line = 0

    # ---- scripting -------------------------------------------------
    def script(self, cmd, reply=None, match=None, times=None, delay=0.0,
               close=False):
        """Reply `reply` (str, multi-line with \\n, or DROP) to `cmd`
        (CONNECT, EHLO, LHLO, HELO, STARTTLS, AUTH, MAIL, RCPT, DATA, DOT,
        BDAT, RSET, NOOP, QUIT) whose argument contains `match`; for DOT
        in LMTP mode `match` is tested against each recipient.  `times`
        limits how often the rule is used; `delay` waits before replying;
        `close` closes the connection after the reply."""
        with self.lock:
            self.rules.append(Rule(cmd, reply, match, times, delay, close))
        return self

    def clear_script(self):
        with self.lock:
            self.rules = []

    def _rule(self, cmd, arg=""):
        with self.lock:
            for r in self.rules:
                if r.cmd != cmd or r.times == 0:
                    continue
                if r.match is not None and r.match not in arg.lower():
                    continue
                if r.times is not None:
                    r.times -= 1
                return r
        return None

    # ---- life ------------------------------------------------------
    def start(self):
        if self.thread is not None:
            return self
        ready = threading.Event()
        self.loop = asyncio.new_event_loop()

        def run():
            asyncio.set_event_loop(self.loop)
            try:
                self.server = self.loop.run_until_complete(
                    asyncio.start_server(self._handle, self.host, self.port,
                                         reuse_address=True))
            except Exception as e:      # noqa: BLE001
                self.errors.append("listen: %r" % e)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)
        if self.errors:
            raise AssertionError("peer %s:%d: %s" % (self.host, self.port,
                                                     self.errors))
        return self

    def stop(self):
        if self.thread is None:
            return

        async def shutdown():
            self.server.close()
            for t in list(self.tasks):
                t.cancel()
            await asyncio.sleep(0)
            try:
                await asyncio.wait_for(self.server.wait_closed(), 2)
            except Exception:           # noqa: BLE001
                pass

        try:
            asyncio.run_coroutine_threadsafe(shutdown(),
                                             self.loop).result(5)
        except Exception:               # noqa: BLE001
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.thread = None
        try:
            self.loop.close()
        except Exception:               # noqa: BLE001
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    # ---- results ---------------------------------------------------
    def txns(self):
        with self.lock:
            return [t for s in self.sessions for t in s.txns]

    def messages(self):
        """Transactions with at least one recipient delivered."""
        return [t for t in self.txns() if t.accepted]

    def delivered(self):
        """Every (recipient, txn) delivered, in order."""
        return [(r, t) for t in self.messages() for r in t.delivered]

    def wait_messages(self, n, timeout=10):
        wait_for(lambda: len(self.messages()) >= n, timeout,
                 what="%d message(s) at peer %s (have %d)" % (
                     n, self.addr, len(self.messages())))
        return self.messages()

    def wait_sessions(self, n, timeout=10):
        wait_for(lambda: len(self.sessions) >= n, timeout,
                 what="%d session(s) at peer %s (have %d)" % (
                     n, self.addr, len(self.sessions)))
        return self.sessions

    def wait_closed(self, timeout=10):
        """Wait until every session so far has ended."""
        wait_for(lambda: all(s.closed for s in self.sessions), timeout,
                 what="sessions of %s to end" % self.addr)

    # ---- protocol --------------------------------------------------
    async def _handle(self, reader, writer):
        task = asyncio.current_task()
        self.tasks.add(task)
        sock = writer.get_extra_info("socket")
        sess = Session(sock.getsockname()[:2], sock.getpeername()[:2])
        with self.lock:
            self.sessions.append(sess)
        conn = _Conn(self, sess, reader, writer)
        try:
            await conn.run()
        except (_Eof, ConnectionError, asyncio.IncompleteReadError,
                ssl.SSLError, asyncio.CancelledError, OSError):
            pass
        except Exception as e:          # noqa: BLE001
            self.errors.append("session: %r" % e)
        finally:
            sess.closed = True
            try:
                writer.close()
            except Exception:           # noqa: BLE001
                pass
            self.tasks.discard(task)


class _Conn:
    def __init__(self, peer, sess, reader, writer):
        self.p = peer
        self.s = sess
        self.r = reader
        self.w = writer
        self.buf = b""
        self.txn = None

    async def _fill(self):
        data = await self.r.read(65536)
        if not data:
            raise _Eof()
        self.s.raw += data
        self.s.chunks.append(data)
        self.buf += data

    async def readline(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise _Eof()
            await self._fill()
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        if not line.endswith(b"\r\n"):
            self.s.bare_lf = True
        return line

    async def readexact(self, n):
        while len(self.buf) < n:
            await self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    async def send(self, text):
        lines = text.split("\n")
        out = "".join(l + "\r\n" for l in lines)
        self.w.write(out.encode("utf-8", "surrogateescape"))
        await self.w.drain()

    async def reply(self, cmd, default, arg=""):
        """Send the scripted or the default reply; returns the reply
        text sent (None when dropped)."""
        rule = self.p._rule(cmd, arg)
        text = default
        if rule is not None:
            if rule.delay:
                await asyncio.sleep(rule.delay)
            if rule.reply is DROP:
                raise _Eof()
            if rule.reply is not None:
                text = rule.reply
        await self.send(text)
        if rule is not None and rule.close:
            raise _Eof()
        return text

    def ehlo_text(self, verb):
        caps = [c for c in self.p.caps
                if not (self.s.tls and c.upper() == "STARTTLS")]
        lines = [self.p.name] + caps
        return "\n".join("250%s%s" % ("-" if i < len(lines) - 1 else " ",
                                      l) for i, l in enumerate(lines))

    async def run(self):
        await self.reply("CONNECT", self.p.greeting)
        while True:
            raw = await self.readline()
            chunk = len(self.s.chunks) - 1
            line = raw.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
            self.s.commands.append((line, chunk))
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb.startswith("MAIL") or verb.startswith("RCPT"):
                verb = verb.split(":")[0]
            await self.command(verb, arg, line)

    async def command(self, verb, arg, line):
        p, s = self.p, self.s
        if verb in ("EHLO", "HELO", "LHLO"):
            if (verb == "LHLO") != p.lmtp:
                await self.reply(verb, "500 5.5.1 wrong greeting verb", arg)
                return
            s.helo = arg
            self.txn = None
            await self.reply(verb, self.ehlo_text(verb) if verb != "HELO"
                             else "250 %s" % p.name, arg)
        elif verb == "STARTTLS":
            if self.buf:
                s.starttls_injection = bytes(self.buf)
                self.buf = b""
            text = await self.reply(verb, "220 2.0.0 Ready to start TLS")
            if not text.startswith("220"):
                return
            if p.tls_mode == "broken":
                self.w.write(b"this is not a TLS handshake\r\n" * 4)
                await self.w.drain()
                raise _Eof()
            cert, key = self_signed_cert(p.certdir or "/tmp")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            try:
                await asyncio.wait_for(self.w.start_tls(ctx), 10)
            except Exception as e:      # noqa: BLE001
                s.tls_failed = repr(e)
                raise _Eof()
            s.tls = True
            s.tls_version = self.w.get_extra_info("ssl_object").version()
            s.helo = None
            self.txn = None
        elif verb == "AUTH":
            await self.auth(arg)
        elif verb == "MAIL":
            if self.txn is not None:
                await self.reply(verb, "503 5.5.1 nested MAIL", arg)
                return
            text = await self.reply(verb, "250 2.1.0 OK", arg)
            if text.startswith("2"):
                self.txn = Txn(line)
                s.txns.append(self.txn)
        elif verb == "RCPT":
            if self.txn is None:
                await self.reply(verb, "503 5.5.1 need MAIL", arg)
                return
            self.txn.rcpt_lines.append(line)
            text = await self.reply(verb, "250 2.1.5 OK", arg)
            if text.startswith("2"):
                a = arg[3:].strip() if arg.upper().startswith("TO:") else arg
                self.txn.rcpts.append(a[1:a.find(">")] if a.startswith("<")
                                      else a)
        elif verb == "DATA":
            if self.txn is None or not self.txn.rcpts:
                await self.reply(verb, "554 5.5.1 no valid recipients")
                self.txn = None
                return
            text = await self.reply(verb, "354 go ahead")
            if not text.startswith("3"):
                self.txn = None
                return
            raw, data = [], []
            while True:
                l = await self.readline()
                if l == b".\r\n":
                    break
                raw.append(l)
                data.append(l[1:] if l.startswith(b".") else l)
            self.txn.raw_data = b"".join(raw)
            self.txn.data = b"".join(data)
            await self.end_of_data()
        elif verb == "BDAT":
            if self.txn is None or not self.txn.rcpts:
                await self.reply(verb, "503 5.5.1 no valid recipients")
                self.txn = None
                return
            parts = arg.split()
            n = int(parts[0])
            last = len(parts) > 1 and parts[1].upper() == "LAST"
            chunk = await self.readexact(n)
            self.txn.bdat = True
            self.txn.raw_data = (self.txn.raw_data or b"") + chunk
            self.txn.data = self.txn.raw_data
            if last:
                await self.end_of_data()
            else:
                await self.reply(verb, "250 2.0.0 %d octets" % n, arg)
        elif verb == "RSET":
            self.txn = None
            await self.reply(verb, "250 2.0.0 OK")
        elif verb == "NOOP":
            await self.reply(verb, "250 2.0.0 OK")
        elif verb == "QUIT":
            await self.reply(verb, "221 2.0.0 bye")
            raise _Eof()
        else:
            await self.reply(verb, "500 5.5.2 unknown command", arg)

    async def end_of_data(self):
        t, self.txn = self.txn, None
        if self.p.lmtp:
            for r in t.rcpts:
                text = await self.reply("DOT", "250 2.0.0 <%s> delivered" % r,
                                        r)
                t.final.append(text)
                if text.startswith("2"):
                    t.delivered.append(r)
        else:
            text = await self.reply("DOT", "250 2.0.0 queued as %08X" %
                                    random.getrandbits(32))
            t.final.append(text)
            if text.startswith("2"):
                t.delivered = list(t.rcpts)

    async def auth(self, arg):
        p, s = self.p, self.s
        parts = arg.split()
        mech = parts[0].upper() if parts else ""
        initial = parts[1] if len(parts) > 1 else None
        rec = {"mech": mech, "user": None, "password": None, "ok": False,
               "initial": initial is not None}
        s.auth = rec

        async def ask(prompt):
            await self.send("334 " + prompt)
            l = (await self.readline()).rstrip(b"\r\n").decode()
            s.commands.append((l, len(s.chunks) - 1))
            if l == "*":
                raise _Abort()
            return l

        try:
            if mech == "PLAIN":
                resp = initial if initial not in (None, "=") else (
                    "" if initial == "=" else await ask(""))
                dec = base64.b64decode(resp).split(b"\0")
                rec["user"], rec["password"] = dec[1].decode(), \
                    dec[2].decode()
                rec["ok"] = p.auth_users.get(rec["user"]) == rec["password"]
            elif mech == "LOGIN":
                u = initial if initial is not None else await ask(
                    "VXNlcm5hbWU6")
                rec["user"] = base64.b64decode(u).decode()
                pw = await ask("UGFzc3dvcmQ6")
                rec["password"] = base64.b64decode(pw).decode()
                rec["ok"] = p.auth_users.get(rec["user"]) == rec["password"]
            elif mech == "CRAM-MD5":
                chal = "<%d.%d@%s>" % (random.getrandbits(31),
                                       int(time.time()), p.name)
                resp = base64.b64decode(await ask(base64.b64encode(
                    chal.encode()).decode())).decode()
                user, _, digest = resp.rpartition(" ")
                rec["user"], rec["digest"] = user, digest
                pw = p.auth_users.get(user)
                rec["ok"] = pw is not None and hmac.compare_digest(
                    digest, hmac.new(pw.encode(), chal.encode(),
                                     hashlib.md5).hexdigest())
                rec["password"] = pw if rec["ok"] else None
            else:
                await self.reply("AUTH", "504 5.5.4 mechanism unknown", arg)
                return
        except _Abort:
            await self.send("501 5.0.0 AUTH aborted")
            return
        except (ValueError, IndexError, UnicodeDecodeError):
            await self.send("501 5.5.2 bad AUTH data")
            return
        await self.reply("AUTH", "235 2.7.0 Authentication successful"
                         if rec["ok"] else
                         "535 5.7.8 Authentication credentials invalid",
                         arg)


class _Abort(Exception):
    pass


# ---- DNS ---------------------------------------------------------------

DNSMASQ = "/usr/sbin/dnsmasq"


class Dnsmasq:
    """dnsmasq on 127.0.0.1:<port> answering only for *.test from its
    command-line records; everything else under .test is NXDOMAIN."""

    def __init__(self, workdir, records=()):
        self.workdir = str(workdir)
        self.records = list(records)
        self.port = None
        self.proc = None

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.port = free_udp_tcp_port()
        self.logpath = os.path.join(self.workdir, "dnsmasq-%d.log" %
                                    self.port)
        args = [DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts",
                "--conf-file=/dev/null", "--bind-interfaces",
                "--listen-address=127.0.0.1", "--port=%d" % self.port,
                "--pid-file=%s/dnsmasq-%d.pid" % (self.workdir, self.port),
                "--local=/test/", "--local-ttl=1", "--log-facility=-",
                *self.records]
        self.log_fp = open(self.logpath, "w")
        self.proc = subprocess.Popen(args, stdout=self.log_fp,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dnsmasq exited:\n" + self.log())
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         timeout=1).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError("dnsmasq does not listen:\n" + self.log())

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_fp.close()
        self.proc = None

    @property
    def smart_dns_host(self):
        return "127.0.0.1:%d:udp" % self.port

    def query(self, name, qtype="A"):
        return dns_query(self.port, name, qtype)


QTYPES = {"A": 1, "MX": 15, "AAAA": 28}


def _read_name(msg, off):
    labels = []
    jumped, end = False, None
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            ptr = struct.unpack(">H", msg[off:off + 2])[0] & 0x3FFF
            if not jumped:
                end = off + 2
            jumped = True
            off = ptr
            continue
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode())
        off += n
    return ".".join(labels), (end if jumped else off)


def dns_query(port, name, qtype="A", host="127.0.0.1", timeout=3):
    """One UDP DNS query; returns (rcode, [answers]) where an answer is
    an IPv4 string for A and (pref, host) for MX."""
    qid = random.getrandbits(16)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", QTYPES[qtype], 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, (host, port))
        msg = s.recv(4096)
    rid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    assert rid == qid
    off = 12
    for _ in range(qd):
        _, off = _read_name(msg, off)
        off += 4
    answers = []
    for _ in range(an):
        _, off = _read_name(msg, off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        if rtype == 1:
            answers.append(socket.inet_ntoa(rdata))
        elif rtype == 15:
            pref = struct.unpack(">H", rdata[:2])[0]
            answers.append((pref, _read_name(msg, off + 2)[0] or "."))
        off += rdlen
    return flags & 0xF, answers


# ---- smtp-sink -----------------------------------------------------------

def smtp_sink_path():
    for p in ("/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink"):
        if os.path.exists(p):
            return p
    return None


class SmtpSink:
    """Postfix's smtp-sink on 127.0.0.1:<port>, dumping every message to
    a file in dumpdir (one file per message)."""

    def __init__(self, workdir, host="127.0.0.1", port=None, extra=()):
        self.workdir = str(workdir)
        self.host = host
        self.port = port or free_port((host,))
        self.extra = list(extra)
        self.proc = None

    def start(self):
        # Under /tmp: smtp-sink runs as nobody, pytest's tmp is 0700.
        self.dumpdir = tempfile.mkdtemp(prefix="sink-%d-" % self.port)
        os.chmod(self.dumpdir, 0o777)
        args = [smtp_sink_path(), "-d", self.dumpdir + "/%H%M%S.",
                *self.extra]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        args += ["%s:%d" % (self.host, self.port), "64"]
        self.log_fp = open(os.path.join(self.workdir, "sink-%d.log" %
                                        self.port), "w")
        self.proc = subprocess.Popen(args, stdout=self.log_fp,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("smtp-sink exited: %s" %
                                     open(self.log_fp.name).read())
            try:
                c = socket.create_connection((self.host, self.port), 1)
                c.recv(100)
                c.close()
                return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError("smtp-sink does not listen")

    def dumps(self):
        out = []
        for root, _, files in os.walk(self.dumpdir):
            out += [os.path.join(root, f) for f in files]
        return sorted(out)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log_fp.close()
            shutil.rmtree(self.dumpdir, ignore_errors=True)
        self.proc = None


class Blackhole:
    """A TCP address where connect() hangs: a listening socket whose
    accept queue is full and never drained, so further SYNs are
    dropped (for connect timeouts)."""

    def __init__(self, host="127.0.0.5"):
        self.host = host
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fill = []
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect((host, self.port))
            except BlockingIOError:
                pass
            self.fill.append(s)
        time.sleep(0.1)

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    def close(self):
        for s in self.fill:
            s.close()
        self.sock.close()
