"""`postroom sendmail`: local-mailer files and their delivery.

The binary under test is named by POSTROOM_BIN.  Most tests only check the
file sendmail leaves in MailRoot/spool/local; the delivery tests need the
server's local mailer, which polls spool/local every -Lt seconds.
"""
import os
import re
import stat
import subprocess

import pytest

import conftest

BIN = os.environ.get("POSTROOM_BIN")

pytestmark = pytest.mark.skipif(not BIN, reason="POSTROOM_BIN is not set")

EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_CONFIG = 64, 65, 66, 78

NAME_RE = re.compile(r"^\d+-\d{3,}\.\d+\.[A-Za-z0-9._-]+$")


def sendmail(root, *args, input=b"", env=None, argv0=None):
    """Run `postroom sendmail ARGS` with MAIL_ROOT=root (None: unset)."""
    e = dict(os.environ)
    e.pop("MAIL_ROOT", None)
    if root is not None:
        e["MAIL_ROOT"] = str(root)
    e.update(env or {})
    cmd = [argv0, *args] if argv0 else [BIN, "sendmail", *args]
    if isinstance(input, str):
        input = input.encode()
    return subprocess.run(cmd, input=input, capture_output=True, env=e,
                          timeout=60)


def local_files(root):
    return sorted((root / "spool" / "local").iterdir())


def parse_local(path):
    """(sender, [recipients], message bytes) of a local-mailer file."""
    data = path.read_bytes()
    env, sep, msg = data.partition(b"\r\n\r\n")
    assert sep, data
    lines = env.decode().split("\r\n")
    m = re.fullmatch(r"mail from:<(.*)>", lines[0])
    assert m, lines[0]
    rcpts = []
    for line in lines[1:]:
        r = re.fullmatch(r"rcpt to:<(.+)>", line)
        assert r, line
        rcpts.append(r.group(1))
    return m.group(1), rcpts, msg


def only_file(root):
    files = local_files(root)
    assert len(files) == 1, files
    return parse_local(files[0])


def headers(msg):
    """Header section of a message, as text."""
    return msg.partition(b"\r\n\r\n")[0].decode()


def assert_crlf(data):
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")


def ok(p):
    assert p.returncode == 0, (p.returncode, p.stderr)
    return p


def wait_messages(root, user, count, timeout=15):
    # Maildir files may hold LF lines: compare with LF.
    return [m.replace(b"\r\n", b"\n")
            for m in conftest.wait_messages(root, user, count, timeout)]


MSG = "Subject: hello\nTo: alice@example.test\n\nHello Alice.\n"


def test_queues_a_local_mailer_file(mailroot):
    ok(sendmail(mailroot, "-f", "s@remote.test", "alice@example.test",
                input=MSG))
    files = local_files(mailroot)
    assert len(files) == 1
    assert NAME_RE.match(files[0].name), files[0].name
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert list((mailroot / "spool" / "temp").iterdir()) == []
    data = files[0].read_bytes()
    assert_crlf(data)
    sender, rcpts, msg = parse_local(files[0])
    assert sender == "s@remote.test"
    assert rcpts == ["alice@example.test"]
    hdr = headers(msg)
    assert "Subject: hello\r\n" in hdr
    assert "\r\nFrom: <s@remote.test>" in hdr
    assert re.search(r"\r\nDate: \w{3}, \d+ \w{3} \d{4} ", hdr)
    assert re.search(r"\r\nMessage-ID: <[^>]+@example\.test>", hdr)
    assert msg.endswith(b"\r\n\r\nHello Alice.\r\n")


def test_existing_headers_kept(mailroot):
    msg = ("From: Me <me@remote.test>\nDate: Mon, 1 Jan 2024 10:00:00 +0000"
           "\nMessage-ID: <x@y>\n\nbody\n")
    ok(sendmail(mailroot, "-fme@remote.test", "bob@example.test",
                input=msg))
    _, _, out = only_file(mailroot)
    assert out == msg.replace("\n", "\r\n").encode()


def test_default_sender_and_fullname(mailroot):
    ok(sendmail(mailroot, "-F", "Jane Q. Doe", "bob", input="x\n"))
    sender, rcpts, msg = only_file(mailroot)
    assert re.fullmatch(r"[^@]+@example\.test", sender)
    # A bare name gets @RootDomain.
    assert rcpts == ["bob@example.test"]
    assert '\r\nFrom: "Jane Q. Doe" <%s>\r\n' % sender in \
        "\r\n" + headers(msg) + "\r\n"
    # No header section in the input: the text is the body.
    assert msg.endswith(b"\r\n\r\nx\r\n")


def test_null_sender(mailroot):
    ok(sendmail(mailroot, "-f", "<>", "alice@example.test", input="x\n"))
    sender, _, _ = only_file(mailroot)
    assert sender == ""


def test_t_reads_to_cc_bcc_and_removes_bcc(mailroot):
    msg = ("To: Alice <alice@example.test>, \"Bob, B.\" <bob@example.test>"
           " (work)\nCc: friends: carol@remote.test,\n"
           "\tdave@remote.test;\nBcc: hidden@remote.test\nSubject: t\n\n"
           "Bcc: in the body stays\n")
    ok(sendmail(mailroot, "-t", "-f", "s@remote.test", "extra@remote.test",
                input=msg))
    _, rcpts, out = only_file(mailroot)
    assert rcpts == ["extra@remote.test", "alice@example.test",
                     "bob@example.test", "carol@remote.test",
                     "dave@remote.test", "hidden@remote.test"]
    assert "Bcc" not in headers(out)
    assert "hidden" not in headers(out)
    assert "\tdave@remote.test;" in headers(out)
    assert out.endswith(b"\r\n\r\nBcc: in the body stays\r\n")


def test_t_folded_bcc_removed_whole(mailroot):
    msg = "To: a@remote.test\nBcc: b@remote.test,\n c@remote.test\n\nx\n"
    ok(sendmail(mailroot, "-ti", input=msg))
    _, rcpts, out = only_file(mailroot)
    assert rcpts == ["a@remote.test", "b@remote.test", "c@remote.test"]
    assert "c@remote.test" not in headers(out)


def test_duplicates_sent_once(mailroot):
    ok(sendmail(mailroot, "-t", "alice@example.test", "ALICE@example.test",
                input="To: alice@example.test\n\nx\n"))
    _, rcpts, _ = only_file(mailroot)
    assert rcpts == ["alice@example.test"]


def test_rcpt_file(mailroot, tmp_path):
    rf = tmp_path / "rcpts"
    rf.write_text("alice@example.test\n# a comment\n\n"
                  "Bob <bob@example.test>\r\ncarol@remote.test\n")
    ok(sendmail(mailroot, "--rcpt-file", str(rf), input="x\n"))
    _, rcpts, _ = only_file(mailroot)
    assert rcpts == ["alice@example.test", "bob@example.test",
                     "carol@remote.test"]


def test_rcpt_file_bad_line(mailroot, tmp_path):
    rf = tmp_path / "rcpts"
    rf.write_text("alice@example.test\nnot an address@@\n")
    p = sendmail(mailroot, "--rcpt-file", str(rf), input="x\n")
    assert p.returncode == EX_DATAERR
    assert b":2" in p.stderr
    assert local_files(mailroot) == []


def test_input_file_read_to_end(mailroot, tmp_path):
    f = tmp_path / "msg"
    f.write_bytes(b"Subject: f\n\nline\n.\nafter the dot\n")
    ok(sendmail(mailroot, "--input-file", str(f), "alice@example.test",
                input=b"ignored stdin\n"))
    _, _, msg = only_file(mailroot)
    assert msg.endswith(b"\r\n\r\nline\r\n.\r\nafter the dot\r\n")
    assert b"ignored stdin" not in msg


def test_input_file_missing(mailroot, tmp_path):
    p = sendmail(mailroot, "--input-file", str(tmp_path / "nope"),
                 "alice@example.test")
    assert p.returncode == EX_NOINPUT
    assert local_files(mailroot) == []


def test_xinput_local_mailer_format(mailroot, tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"mail from:<s@remote.test>\nrcpt to:<alice@example.test>"
                  b"\nrcpt to:<bob@example.test>\n\nSubject: x\n\nbody\n")
    ok(sendmail(mailroot, "--xinput-file", str(f)))
    sender, rcpts, msg = only_file(mailroot)
    assert sender == "s@remote.test"
    assert rcpts == ["alice@example.test", "bob@example.test"]
    # Passed through: no header is added.
    assert msg == b"Subject: x\r\n\r\nbody\r\n"


def test_xinput_spool_format(mailroot, tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"[192.0.2.1]:25;[192.0.2.2]:25;Mon, 1 Jan 2024\r\n"
                  b"example.test\r\nS1\r\nMAIL FROM:<a@remote.test>\r\n"
                  b"RCPT TO:<list@example.test>\r\n<<MAIL-DATA>>\r\n"
                  b"Subject: list\r\n\r\nto the list\r\n")
    ok(sendmail(mailroot, "--xinput-file", str(f), "-f", "owner@example.test",
                "alice@example.test"))
    sender, rcpts, msg = only_file(mailroot)
    assert sender == "owner@example.test"
    assert rcpts == ["alice@example.test"]
    assert headers(msg).startswith("Subject: list\r\n")
    assert msg.endswith(b"\r\n\r\nto the list\r\n")


def test_xinput_malformed(mailroot, tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"mail from:<s@remote.test>\nrcpt to:<bad@>\n\nx\n")
    p = sendmail(mailroot, "--xinput-file", str(f))
    assert p.returncode == EX_DATAERR
    f.write_bytes(b"just text\n")
    p = sendmail(mailroot, "--xinput-file", str(f), "alice@example.test")
    assert p.returncode == EX_DATAERR
    assert local_files(mailroot) == []


def test_dot_ends_input_without_i(mailroot):
    ok(sendmail(mailroot, "alice@example.test",
                input="Subject: d\n\nfirst\n..two dots stay\n.\nlost\n"))
    _, _, msg = only_file(mailroot)
    assert msg.endswith(b"\r\n\r\nfirst\r\n..two dots stay\r\n")


@pytest.mark.parametrize("flag", ["-i", "-oi"])
def test_i_reads_to_eof(mailroot, flag):
    ok(sendmail(mailroot, flag, "alice@example.test",
                input="Subject: d\n\nfirst\n.\nkept\n"))
    _, _, msg = only_file(mailroot)
    assert msg.endswith(b"\r\n\r\nfirst\r\n.\r\nkept\r\n")


def test_line_ends_normalised(mailroot):
    ok(sendmail(mailroot, "-i", "alice@example.test",
                input=b"Subject: n\n\na\nb\rc\r\nd"))
    data = local_files(mailroot)[0].read_bytes()
    assert_crlf(data)
    assert data.endswith(b"\r\n\r\na\r\nb\r\nc\r\nd\r\n")


@pytest.mark.parametrize("args", [
    ["bad address@example.test"],
    ["alice@example..test"],
    ["-f", "a@@b", "alice@example.test"],
    ["<>"],
    ["alice@example.test", "Bob <bob@example.test"],
])
def test_invalid_address(mailroot, args):
    p = sendmail(mailroot, *args, input="x\n")
    assert p.returncode == EX_DATAERR, p.stderr
    assert local_files(mailroot) == []


def test_t_invalid_header_address(mailroot):
    p = sendmail(mailroot, "-t", input="To: Alice <alice@>\n\nx\n")
    assert p.returncode == EX_DATAERR
    assert local_files(mailroot) == []


def test_missing_mail_root(tmp_path):
    p = sendmail(None, "alice@example.test", input="x\n")
    assert p.returncode == EX_CONFIG
    assert b"MAIL_ROOT" in p.stderr
    p = sendmail(tmp_path / "nothing", "alice@example.test", input="x\n")
    assert p.returncode == EX_CONFIG


@pytest.mark.parametrize("flag", ["-bs", "-bd", "-bp", "-q", "-q30m"])
def test_unsupported_modes(mailroot, flag):
    p = sendmail(mailroot, flag, "alice@example.test", input="x\n")
    assert p.returncode == EX_USAGE
    assert flag.encode() in p.stderr
    assert local_files(mailroot) == []


def test_no_recipients(mailroot):
    p = sendmail(mailroot, input="x\n")
    assert p.returncode == EX_USAGE
    p = sendmail(mailroot, "-t", input="Subject: none\n\nx\n")
    assert p.returncode == EX_USAGE
    assert local_files(mailroot) == []


def test_ignored_options(mailroot):
    ok(sendmail(mailroot, "-oi", "-odb", "-oem", "-bm", "-B", "8BITMIME",
                "-N", "never", "-R", "hdrs", "-V", "envid", "-X",
                "/dev/null", "-v", "-fs@remote.test", "--",
                "alice@example.test", input="x\n.\ny\n"))
    sender, rcpts, msg = only_file(mailroot)
    assert (sender, rcpts) == ("s@remote.test", ["alice@example.test"])
    assert msg.endswith(b"x\r\n.\r\ny\r\n")


def test_help():
    p = subprocess.run([BIN, "sendmail", "--help"], capture_output=True,
                       timeout=30)
    assert p.returncode == 0
    assert p.stdout.startswith(b"usage: postroom sendmail")


def test_too_large(mailroot):
    big = b"Subject: big\n\n" + (b"x" * 1023 + b"\n") * (64 * 1024 + 1)
    p = sendmail(mailroot, "-i", "alice@example.test", input=big)
    assert p.returncode == EX_DATAERR
    assert local_files(mailroot) == []


def test_argv0_sendmail_link(mailroot, tmp_path):
    link = tmp_path / "sendmail"
    link.symlink_to(os.path.abspath(BIN))
    p = sendmail(mailroot, "-f", "s@remote.test", "alice@example.test",
                 input=MSG, argv0=str(link))
    assert p.returncode == 0, p.stderr
    sender, rcpts, _ = only_file(mailroot)
    assert (sender, rcpts) == ("s@remote.test", ["alice@example.test"])


def test_delivered_by_the_server(server, mailroot):
    ok(sendmail(mailroot, "-f", "s@remote.test", "alice@example.test",
                input=MSG))
    got = wait_messages(mailroot, "alice", 1)
    assert len(got) == 1, server.log()
    assert re.search(rb"\nReceived: from /spool/local\n\tby example\.test "
                     rb"with \[postroom LMAIL Server\]\n\tid <L[0-9A-F]+> "
                     rb"for <alice@example\.test> from <s@remote\.test>;\n"
                     rb"\t\w{3}, ", got[0])
    assert got[0].endswith(b"\n\nHello Alice.\n")
    # The local-mailer file is gone once spooled.
    assert local_files(mailroot) == []


def test_t_delivered_without_bcc(server, mailroot):
    msg = ("To: alice@example.test\nBcc: bob@example.test\n"
           "Subject: secret copy\n\nhi\n")
    ok(sendmail(mailroot, "-t", "-f", "s@remote.test", input=msg))
    alice = wait_messages(mailroot, "alice", 1)
    bob = wait_messages(mailroot, "bob", 1)
    assert len(alice) == 1 and len(bob) == 1, server.log()
    for m in alice + bob:
        assert b"Subject: secret copy" in m
        assert b"\nBcc:" not in m


def test_lmail_log(mailroot, start_server, tmp_path):
    """-Ll: one lmail record per recipient of a local-mailer file."""
    import os
    import subprocess
    import time
    srv = start_server(mailroot, "-Ll", "-Lt", "1")
    env = dict(os.environ, MAIL_ROOT=str(mailroot))
    p = subprocess.run([os.environ["POSTROOM_BIN"], "sendmail", "-f",
                        "s@remote.test", "alice@example.test",
                        "bob@example.test"], input=b"Subject: l\n\nx\n",
                       env=env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    deadline = time.monotonic() + 10
    recs = []
    while time.monotonic() < deadline and len(recs) < 2:
        logs = list((mailroot / "logs").glob("lmail-*"))
        if logs:
            recs = [l.split("\t") for l in logs[0].read_text().splitlines()]
        time.sleep(0.1)
    assert sorted(r[5] for r in recs) == ['"alice@example.test"',
                                          '"bob@example.test"']
    assert all(r[4] == '"s@remote.test"' and r[2].startswith('"L')
               for r in recs)
