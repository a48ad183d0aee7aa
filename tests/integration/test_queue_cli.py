"""`postroom queue`: list, show, flush, delete, freeze and thaw.

Most tests write spool files directly in the format of docs/QUEUE.md and
run the command without a server.  The last ones spool mail through a
running server towards a gateway nobody listens on, so it stays deferred
(they need the outbound queue, src/queue/queue_out.c).
"""
import fcntl
import json
import os
import re
import smtplib
import time

import pytest

from conftest import free_port, run

SPLIT = 3          # conftest init_mailroot uses --split 3
BODY = b"Subject: queued\r\n\r\nHello.\r\n"
SLOG = (b"[PeekTime] 1700000000 : Tue, 14 Nov 2023 22:13:20 +0000\r\n"
        b"<<\r\nErrCode   = -1\r\nErrString = connection refused\r\n>>\r\n"
        b"[PeekTime] 1700000480 : Tue, 14 Nov 2023 22:21:20 +0000\r\n"
        b"<<\r\nErrCode   = -2\r\nErrString = temporary failure\r\n"
        b"SMTP-Error = \"451 4.3.0 try again later\"\r\n"
        b"SMTP-Server = \"mx1.remote.test\"\r\n"
        b"C: MAIL FROM:<>\r\nS: 451 4.3.0 try again later\r\n>>\r\n")

DIRS = {"ready": "mess", "deferred": "rsnd", "frozen": "froz"}
SUMMARY = re.compile(r"^(\d+) message\(s\): (\d+) ready, (\d+) deferred, "
                     r"(\d+) frozen$")


def spool(root, name, state, frm, to, bucket=(1, 2), age=0, slog=None,
          body=BODY):
    """Write one spool file (and its slog) as the server would."""
    b = root / "spool" / str(bucket[0]) / str(bucket[1])
    path = b / DIRS[state] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (b"[127.0.0.1]:40000;[127.0.0.1]:25;"
            b"Mon, 1 Jan 2024 10:00:00 +0000\r\nexample.test\r\nS2A\r\n"
            b"MAIL FROM:<" + frm.encode() + b"> SIZE=100\r\n"
            b"RCPT TO:<" + to.encode() + b">\r\n<<MAIL-DATA>>\r\n" + body)
    path.write_bytes(data)
    if age:
        t = time.time() - age
        os.utime(path, (t, t))
    if slog is not None:
        (b / "slog").mkdir(parents=True, exist_ok=True)
        (b / "slog" / name).write_bytes(slog)
    return path


def where(root, name):
    """The spool directories (mess, rsnd, froz, slog) holding `name`."""
    return sorted(p.parent.name for p in root.glob("spool/*/*/*/" + name))


def q(root, *args, check=False):
    return run("queue", "-Ms", str(root), *args, check=check)


@pytest.fixture
def three(mailroot):
    """A frozen (oldest), a deferred and a ready message."""
    spool(mailroot, "1000.a.b.1.host", "frozen", "alice@example.test",
          "dave@remote.test", bucket=(2, 0), age=2 * 86400 + 60,
          slog=b"[PeekTime] 1700000000 : x\r\n<<\r\nErrString = no route"
               b"\r\n>>\r\n")
    spool(mailroot, "1000.a.b.2.host", "deferred", "", "carol@other.example",
          bucket=(1, 2), age=3 * 3600 + 60, slog=SLOG)
    spool(mailroot, "1000.a.b.3.host", "ready", "alice@example.test",
          "Bob@Remote.Test", bucket=(0, 1), age=5 * 60 + 5)
    return mailroot


def lines(p):
    return p.stdout.splitlines()


def test_list_empty(mailroot):
    p = q(mailroot)
    assert p.returncode == 0, p.stderr
    assert lines(p) == ["0 message(s): 0 ready, 0 deferred, 0 frozen"]
    p = q(mailroot, "list", "--json")
    assert p.returncode == 0 and p.stdout == ""


def test_list_columns_sorted_by_arrival(three):
    p = q(three, "list")
    assert p.returncode == 0, p.stderr
    out = lines(p)
    assert out[0].split() == ["ID", "STATE", "SIZE", "AGE", "TRIES",
                              "SENDER", "->", "RECIPIENT"]
    rows = [l for l in out[1:-1] if not l.startswith(" ")]
    assert [r.split()[0] for r in rows] == [
        "1000.a.b.1.host", "1000.a.b.2.host", "1000.a.b.3.host"]
    f = rows[0].split()
    size = (three / "spool/2/0/froz/1000.a.b.1.host").stat().st_size
    assert f[1:] == ["frozen", str(size), "2d", "1", "alice@example.test",
                     "->", "dave@remote.test"]
    f = rows[1].split()
    assert f[1] == "deferred" and f[3] == "3h" and f[4] == "2"
    assert f[5:] == ["<>", "->", "carol@other.example"]
    f = rows[2].split()
    assert f[1] == "ready" and f[3] == "5m" and f[4] == "0"
    assert f[7] == "Bob@Remote.Test"
    # The last error follows its message on an indented line.
    i = out.index(next(l for l in out if l.startswith("1000.a.b.2.host")))
    assert out[i + 1] == ("    last error: 451 4.3.0 try again later "
                          "(server mx1.remote.test)")
    assert out[2].startswith("    last error: no route")
    assert SUMMARY.match(out[-1]).groups() == ("3", "1", "1", "1")


def test_list_json(three):
    p = q(three, "list", "--json")
    assert p.returncode == 0, p.stderr
    objs = [json.loads(l) for l in lines(p)]
    assert [o["id"] for o in objs] == [
        "1000.a.b.1.host", "1000.a.b.2.host", "1000.a.b.3.host"]
    d = objs[1]
    assert set(d) == {"id", "bucket", "state", "size", "arrival", "tries",
                      "last_try", "from", "to", "msgid", "last_error",
                      "last_server"}
    assert d["bucket"] == "1/2" and d["state"] == "deferred"
    assert d["tries"] == 2 and d["last_try"] == 1700000480
    assert d["from"] == "" and d["to"] == "carol@other.example"
    assert d["msgid"] == "S2A"
    assert d["last_error"] == "451 4.3.0 try again later"
    assert d["last_server"] == "mx1.remote.test"
    assert d["size"] == (three / "spool/1/2/rsnd/1000.a.b.2.host").stat(
    ).st_size
    assert abs(d["arrival"] - (time.time() - 3 * 3600 - 60)) < 30
    assert objs[2]["state"] == "ready" and objs[2]["tries"] == 0
    assert objs[2]["last_try"] == 0 and objs[2]["last_error"] == ""
    assert objs[0]["state"] == "frozen"


def test_json_escapes_control_characters(mailroot):
    spool(mailroot, "1000.a.b.9.host", "deferred", "a@example.test",
          "x@remote.test",
          slog=b"[PeekTime] 1 : x\r\n<<\r\nSMTP-Error = \"550 \x1b[31m"
               b"bad \\ \"q\" \xff\"\r\n>>\r\n")
    p = q(mailroot, "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["last_error"] == \
        "550 \x1b[31mbad \\ \"q\" \ufffd"
    text = q(mailroot).stdout
    assert "\x1b" not in text and "550 ?[31mbad" in text


@pytest.mark.parametrize("pattern,ids", [
    ("remote.test", ["1", "3"]),
    ("REMOTE.TEST", ["1", "3"]),
    ("*.example", ["2"]),
    ("*@remote.test", ["1", "3"]),
    ("bob@*", ["3"]),
    ("carol@other.example", ["2"]),
    ("*", ["1", "2", "3"]),
    ("nowhere.test", []),
])
def test_list_pattern(three, pattern, ids):
    p = q(three, "list", "--json", pattern)
    assert p.returncode == 0, p.stderr
    assert [json.loads(l)["id"][-6] for l in lines(p)] == ids
    p = q(three, "list", pattern)
    assert SUMMARY.match(lines(p)[-1]).group(1) == str(len(ids))


def test_mail_root_from_environment_and_split(three):
    env = dict(os.environ, MAIL_ROOT=str(three))
    p = run("queue", env=env, check=False)
    assert p.returncode == 0 and "3 message(s)" in p.stdout
    # -Mx smaller than the spool: directories found are searched anyway.
    p = q(three, "-Mx", "2", "list")
    assert "3 message(s)" in p.stdout
    # A bucket beyond the default 23 is found too.
    spool(three, "1000.a.b.7.host", "ready", "a@example.test",
          "z@remote.test", bucket=(30, 29))
    assert "4 message(s)" in q(three).stdout
    assert q(three, "show", "1000.a.b.7.host").returncode == 0


def test_show(three):
    p = q(three, "show", "1000.a.b.2.host")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "ID:          1000.a.b.2.host" in out
    assert "State:       deferred" in out
    assert "Bucket:      1/2" in out
    assert "Tries:       2, last" in out
    assert "Last error:  451 4.3.0 try again later" in out
    assert "Last server: mx1.remote.test" in out
    assert "Info:        [127.0.0.1]:40000;[127.0.0.1]:25;" in out
    assert "Domain:      example.test" in out
    assert "Message-ID:  S2A" in out
    assert "MAIL FROM:<> SIZE=100\n" in out
    assert "RCPT TO:<carol@other.example>\n" in out
    # The delivery log with its transcript, CRLF shown as LF.
    assert "S: 451 4.3.0 try again later\n" in out
    assert "\r" not in out
    assert "Hello." not in out
    p = q(three, "show", "--body", "0/1/1000.a.b.3.host")
    assert p.returncode == 0, p.stderr
    assert "State:       ready" in p.stdout
    assert "Delivery log: none" in p.stdout
    assert p.stdout.endswith("Subject: queued\r\n\r\nHello.\r\n") or \
        p.stdout.endswith("Subject: queued\n\nHello.\n")


def test_show_unknown(three):
    p = q(three, "show", "1000.nope")
    assert p.returncode == 1
    assert "1000.nope: no such message" in p.stderr
    assert q(three, "show", "0/0/1000.a.b.3.host").returncode == 1
    assert q(three, "show", "../../etc/passwd").returncode == 1


def test_freeze_thaw_on_disk(three):
    p = q(three, "freeze", "1000.a.b.2.host", "1000.a.b.3.host")
    assert p.returncode == 0, p.stderr
    assert lines(p) == ["1000.a.b.2.host: frozen (was deferred)",
                        "1000.a.b.3.host: frozen (was ready)"]
    assert where(three, "1000.a.b.2.host") == ["froz", "slog"]
    assert where(three, "1000.a.b.3.host") == ["froz"]
    assert "already frozen" in q(three, "freeze", "1000.a.b.2.host").stdout
    req = three / ".queue-requests"
    assert not req.exists()

    p = q(three, "thaw", "1000.a.b.2.host", "2/0/1000.a.b.1.host")
    assert p.returncode == 0, p.stderr
    assert lines(p) == ["1000.a.b.2.host: thawed (was frozen)",
                        "1000.a.b.1.host: thawed (was frozen)"]
    # T6: the slog goes, the file lands in mess/ with no tries.
    assert where(three, "1000.a.b.2.host") == ["mess"]
    assert where(three, "1000.a.b.1.host") == ["mess"]
    assert req.read_text() == "rescan\n"
    objs = {json.loads(l)["id"]: json.loads(l)
            for l in lines(q(three, "--json"))}
    assert objs["1000.a.b.2.host"]["state"] == "ready"
    assert objs["1000.a.b.2.host"]["tries"] == 0
    assert objs["1000.a.b.3.host"]["state"] == "frozen"
    assert "not frozen" in q(three, "thaw", "1000.a.b.2.host").stdout


def test_delete_ids(three):
    p = q(three, "delete", "1000.a.b.2.host", "1000.nope", "1000.a.b.1.host")
    assert p.returncode == 1
    assert "1000.nope: no such message" in p.stderr
    assert lines(p) == ["1000.a.b.2.host: deleted (was deferred)",
                        "1000.a.b.1.host: deleted (was frozen)"]
    assert where(three, "1000.a.b.2.host") == []
    assert where(three, "1000.a.b.1.host") == []
    assert where(three, "1000.a.b.3.host") == ["mess"]


def test_delete_frozen_and_all(three):
    spool(three, "1000.a.b.4.host", "frozen", "a@example.test",
          "x@other.example", bucket=(0, 0))
    p = q(three, "delete", "--frozen", "remote.test")
    assert p.returncode == 0, p.stderr
    assert lines(p) == ["1000.a.b.1.host: deleted (was frozen)",
                        "1 message(s) deleted"]
    assert where(three, "1000.a.b.4.host") == ["froz"]
    assert q(three, "delete", "--frozen").returncode == 0
    assert where(three, "1000.a.b.4.host") == []

    # --all refuses to run without a pattern.
    p = q(three, "delete", "--all")
    assert p.returncode == 2 and "'*'" in p.stderr
    assert q(three, "delete", "--all", "").returncode == 2
    assert q(three, "delete", "--all", "--frozen", "x").returncode == 2
    p = q(three, "delete", "--all", "*@other.example")
    assert lines(p) == ["1000.a.b.2.host: deleted (was deferred)",
                        "1 message(s) deleted"]
    p = q(three, "delete", "--all", "*")
    assert p.returncode == 0
    assert lines(p)[-1] == "1 message(s) deleted"
    assert lines(q(three))[-1] == \
        "0 message(s): 0 ready, 0 deferred, 0 frozen"


def test_flush_without_server(three):
    p = q(three, "flush")
    assert p.returncode == 1
    assert "not running" in p.stderr
    assert "messages are sent when postroom starts" in p.stderr
    assert not (three / ".queue-requests").exists()
    # A stale lock file nobody holds is no server either.
    (three / ".postroom.lock").write_text("")
    assert q(three, "flush", "remote.test").returncode == 1


def test_flush_writes_request_when_locked(three):
    """A process holding the MailRoot lock counts as a running server."""
    with open(three / ".postroom.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        p = q(three, "flush", "remote.test")
        assert p.returncode == 0, p.stderr
        assert "1 ready or deferred" in p.stdout
        assert "remote.test" in p.stdout
        p = q(three, "flush")
        assert p.returncode == 0, p.stderr
    req = three / ".queue-requests"
    assert req.read_text() == "flush\tremote.test\nflush\t\n"
    assert req.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("args", [
    ["bogus"], ["--nope"], ["list", "--body"], ["show"],
    ["show", "a", "b"], ["list", "a", "b"], ["freeze"], ["thaw"],
    ["delete"], ["show", "--json", "x"], ["-Mx"], ["-Mx", "0", "list"],
    ["-Mx", "x", "list"], ["flush", "a", "b"],
])
def test_usage_errors(three, args):
    p = q(three, *args)
    assert p.returncode == 2, (args, p.stdout, p.stderr)
    assert p.stdout == ""
    assert "postroom queue --help" in p.stderr


def test_no_mail_root(tmp_path):
    env = dict(os.environ)
    env.pop("MAIL_ROOT", None)
    p = run("queue", "list", env=env, check=False)
    assert p.returncode == 2 and "MAIL_ROOT" in p.stderr
    p = run("queue", "-Ms", str(tmp_path), env=env, check=False)
    assert p.returncode == 1 and "not a MailRoot" in p.stderr


def test_help():
    p = run("queue", "--help")
    for word in ("list", "show", "flush", "delete", "freeze", "thaw",
                 "--json", "--body", "--frozen", "--all", "-Ms", "-Mx",
                 "PATTERN"):
        assert word in p.stdout
    assert "queue" in run("--help").stdout


# -- with a running server (needs the outbound queue) ----------------------

def deferred_server(mailroot, start_server):
    """A server whose outbound mail goes to a port nobody listens on."""
    dead = free_port()
    with open(mailroot / "server.tab", "a") as f:
        f.write('"DefaultSMTPGateways"\t"127.0.0.1:%d"\n' % dead)
    return start_server(mailroot)


def send_remote(server, rcpts):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.sendmail("alice@example.test", rcpts,
                   b"From: alice@example.test\r\nSubject: out\r\n\r\nhi\r\n")


def wait_json(root, pred, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        objs = [json.loads(l) for l in lines(q(root, "--json"))]
        if pred(objs) or time.monotonic() > deadline:
            return objs
        time.sleep(0.1)


def test_server_queue_deferred_flush(mailroot, start_server):
    srv = deferred_server(mailroot, start_server)
    send_remote(srv, ["x@remote.test", "y@far.example"])
    objs = wait_json(mailroot, lambda o: len(o) == 2 and all(
        m["state"] == "deferred" and m["tries"] >= 1 for m in o))
    assert sorted(m["to"] for m in objs) == ["x@remote.test",
                                             "y@far.example"]
    assert all(m["state"] == "deferred" for m in objs), objs
    assert all(m["tries"] >= 1 and m["last_error"] for m in objs), objs
    assert all(m["from"] == "alice@example.test" for m in objs)

    tries = {m["to"]: m["tries"] for m in objs}
    p = q(mailroot, "flush", "remote.test")
    assert p.returncode == 0, p.stderr
    assert "1 ready or deferred" in p.stdout
    # The server takes the request file and retries at once.
    deadline = time.monotonic() + 10
    while (mailroot / ".queue-requests").exists() and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (mailroot / ".queue-requests").exists()
    objs = wait_json(mailroot, lambda o: any(
        m["to"] == "x@remote.test" and m["tries"] > tries["x@remote.test"]
        for m in o))
    by_to = {m["to"]: m for m in objs}
    assert by_to["x@remote.test"]["tries"] > tries["x@remote.test"]
    assert by_to["y@far.example"]["tries"] == tries["y@far.example"]


def test_server_freeze_thaw_delete(mailroot, start_server):
    srv = deferred_server(mailroot, start_server)
    send_remote(srv, ["x@remote.test"])
    objs = wait_json(mailroot, lambda o: len(o) == 1 and
                     o[0]["state"] == "deferred")
    assert len(objs) == 1 and objs[0]["state"] == "deferred", objs
    name = objs[0]["id"]
    assert q(mailroot, "freeze", name).returncode == 0
    assert "froz" in where(mailroot, name)
    p = q(mailroot, "thaw", name)
    assert p.returncode == 0, p.stderr
    # The server rescans mess/ and tries it again.
    objs = wait_json(mailroot, lambda o: len(o) == 1 and
                     o[0]["state"] == "deferred" and o[0]["tries"] >= 1)
    assert objs[0]["state"] == "deferred", objs
    p = q(mailroot, "delete", name)
    assert p.returncode == 0, p.stderr
    assert where(mailroot, name) == []
    assert lines(q(mailroot))[-1] == \
        "0 message(s): 0 ready, 0 deferred, 0 frozen"
