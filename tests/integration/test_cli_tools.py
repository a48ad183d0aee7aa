"""`postroom passwd` and `postroom mkusers` run as a user would run them.

The binary under test is named by the POSTROOM_BIN environment variable;
without it the whole module is skipped.
"""

import os
import subprocess

import pytest

BIN = os.environ.get("POSTROOM_BIN")

pytestmark = pytest.mark.skipif(
    not BIN, reason="POSTROOM_BIN is not set")


def run(*args, stdin=None, cwd=None):
    """Run `postroom ARGS...`; returns the CompletedProcess (text mode)."""
    return subprocess.run(
        [BIN, *args], input=stdin if stdin is not None else "",
        capture_output=True, text=True, cwd=cwd, timeout=60)


def xmcrypt(plain):
    """XMail's XMCrypt: every byte XOR 101 as two lower-case hex digits."""
    return "".join("%02x" % (b ^ 101) for b in plain.encode())


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def user_tab(real, home, size="10000"):
    return ('"RealName"\t"%s"\n"HomePage"\t"%s"\n"MaxMBSize"\t"%s"\n'
            % (real, home, size))


THREE_USERS = (
    "# domain;username;password;real-name;homepage\n"
    "a.test;alice;secret;Alice Smith;http://a.test/~alice\n"
    "\n"
    "a.test;bob;password;Bob;http://a.test/~bob\n"
    "b.test;carol;xmail;Carol \"C\" Jones;http://b.test/\n"
)


# --- passwd ---------------------------------------------------------------

@pytest.mark.parametrize("plain, enc", [
    ("test", "11001611"),
    ("password", "15041616120a1701"),
    ("xmail", "1d08040c09"),
])
def test_passwd_xmcrypt_argument(plain, enc):
    r = run("passwd", "xmcrypt", plain)
    assert r.returncode == 0, r.stderr
    assert r.stdout == enc + "\n"


def test_passwd_xmcrypt_stdin_crlf():
    r = run("passwd", "xmcrypt", stdin="test\r\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "11001611\n"


def test_passwd_xmcrypt_leading_dash():
    r = run("passwd", "xmcrypt", "--", "-x")
    assert r.returncode == 0, r.stderr
    assert r.stdout == xmcrypt("-x") + "\n"


@pytest.mark.parametrize("enc, plain", [
    ("11001611", "test"),
    ("15041616120A1701", "password"),
    ("1d08040c09", "xmail"),
])
def test_passwd_decode(enc, plain):
    r = run("passwd", "decode", enc)
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain + "\n"


@pytest.mark.parametrize("bad", ["1100161", "zz", "65"])
def test_passwd_decode_invalid(bad):
    r = run("passwd", "decode", bad)
    assert r.returncode == 1
    assert r.stdout == ""
    assert "XMCrypt" in r.stderr


@pytest.mark.parametrize("opts, prefix", [
    ([], "$y$"),
    (["--yescrypt"], "$y$"),
    (["--sha512"], "$6$"),
])
def test_passwd_hash_verify_round_trip(opts, prefix):
    r = run("passwd", "hash", *opts, stdin="s3cret pass\n")
    assert r.returncode == 0, r.stderr
    h = r.stdout.rstrip("\n")
    assert h.startswith(prefix)
    assert "\n" not in h
    assert "s3cret" not in r.stdout + r.stderr

    ok = run("passwd", "verify", h, stdin="s3cret pass\n")
    assert ok.returncode == 0, ok.stderr
    bad = run("passwd", "verify", h, stdin="s3cret Pass\n")
    assert bad.returncode == 1
    assert run("passwd", "verify", h, "s3cret pass").returncode == 0


def test_passwd_hash_salted():
    a = run("passwd", "hash", "same").stdout
    b = run("passwd", "hash", "same").stdout
    assert a != b


def test_passwd_verify_xmcrypt():
    assert run("passwd", "verify", "11001611", "test").returncode == 0
    assert run("passwd", "verify", "11001611", "Test").returncode == 1
    assert run("passwd", "verify", "11001611",
               stdin="test\n").returncode == 0
    r = run("passwd", "verify", "110016", "test")
    assert r.returncode == 1


def test_passwd_verify_garbage_stored():
    r = run("passwd", "verify", "$garbage$", "test")
    assert r.returncode == 1
    r = run("passwd", "verify", "odd", "test")
    assert r.returncode == 1


def test_passwd_help():
    r = run("passwd", "--help")
    assert r.returncode == 0
    assert "xmcrypt" in r.stdout and "verify" in r.stdout
    assert r.stderr == ""
    assert run("passwd", "hash", "-h").returncode == 0


@pytest.mark.parametrize("args", [
    ["passwd"],
    ["passwd", "bogus"],
    ["passwd", "hash", "--md5", "x"],
    ["passwd", "xmcrypt", "a", "b"],
    ["passwd", "verify"],
    ["passwd", "decode", "-q"],
])
def test_passwd_bad_usage(args):
    r = run(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "usage" in r.stderr


def test_passwd_no_input():
    r = run("passwd", "hash", stdin="")
    assert r.returncode == 1
    assert r.stdout == ""


# --- mkusers --------------------------------------------------------------

def test_mkusers_file_mailbox(tmp_path):
    src = tmp_path / "users.txt"
    src.write_text(THREE_USERS)
    r = run("mkusers", "-f", str(src), "-r", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert read(tmp_path / "mailusers.tab") == (
        '"a.test"\t"alice"\t"%s"\t1\t"alice"\t"U"\n'
        '"a.test"\t"bob"\t"%s"\t2\t"bob"\t"U"\n'
        '"b.test"\t"carol"\t"%s"\t3\t"carol"\t"U"\n'
        % (xmcrypt("secret"), xmcrypt("password"), xmcrypt("xmail")))
    alice = tmp_path / "domains" / "a.test" / "alice"
    assert read(alice / "user.tab") == user_tab(
        "Alice Smith", "http://a.test/~alice")
    carol = tmp_path / "domains" / "b.test" / "carol"
    assert read(carol / "user.tab") == user_tab(
        'Carol \\"C\\" Jones', "http://b.test/")
    for d in (alice, carol, tmp_path / "domains" / "a.test" / "bob"):
        assert (d / "mailbox").is_dir()
        assert not (d / "Maildir").exists()
    # domains.tab is never written, only recalled.
    assert not (tmp_path / "domains.tab").exists()
    assert "a.test" in r.stdout and "b.test" in r.stdout


def test_mkusers_maildir_stdin(tmp_path):
    r = run("mkusers", "-m", "-r", str(tmp_path),
            stdin=THREE_USERS.replace("\n", "\r\n"))
    assert r.returncode == 0, r.stderr
    for dom, user in (("a.test", "alice"), ("a.test", "bob"),
                      ("b.test", "carol")):
        d = tmp_path / "domains" / dom / user
        for sub in ("tmp", "new", "cur"):
            assert (d / "Maildir" / sub).is_dir()
        assert not (d / "mailbox").exists()
        assert (d / "user.tab").is_file()
    assert read(tmp_path / "mailusers.tab").count("\n") == 3
    assert "\r" not in read(tmp_path / "mailusers.tab")


def test_mkusers_auto(tmp_path):
    r = run("mkusers", "-a", "5", "-d", "x.test", "-u", "user",
            "-r", str(tmp_path))
    assert r.returncode == 0, r.stderr
    expect = "".join(
        '"x.test"\t"user%d"\t"%s"\t%d\t"user%d"\t"U"\n'
        % (i, xmcrypt("user%d" % i), i, i) for i in range(1, 6))
    assert read(tmp_path / "mailusers.tab") == expect
    for i in range(1, 6):
        d = tmp_path / "domains" / "x.test" / ("user%d" % i)
        assert read(d / "user.tab") == user_tab(
            "user%d" % i, "http://www.x.test/~user%d" % i)
        assert (d / "mailbox").is_dir()
    assert not (tmp_path / "domains" / "x.test" / "user6").exists()


def test_mkusers_malformed_line(tmp_path):
    src = tmp_path / "users.txt"
    src.write_text(
        "a.test;alice;secret;Alice;http://a.test/\n"
        "a.test;bob;only-three-fields\n"
        "a.test;bad user;pw;Bad;http://a.test/\n"
        "a.test;carol;pw;Carol;http://a.test/\n"
        "A.TEST;ALICE;other;Dup;http://a.test/\n")
    r = run("mkusers", "-f", str(src), "-r", str(tmp_path))
    assert r.returncode == 1
    assert ":2:" in r.stderr
    assert ":3:" in r.stderr
    assert ":5:" in r.stderr and "line 1" in r.stderr
    assert ":1:" not in r.stderr and ":4:" not in r.stderr
    assert read(tmp_path / "mailusers.tab") == (
        '"a.test"\t"alice"\t"%s"\t1\t"alice"\t"U"\n'
        '"a.test"\t"carol"\t"%s"\t2\t"carol"\t"U"\n'
        % (xmcrypt("secret"), xmcrypt("pw")))
    assert not (tmp_path / "domains" / "a.test" / "bob").exists()
    assert not (tmp_path / "domains" / "a.test" / "ALICE").exists()


def test_mkusers_refuses_existing_mailusers(tmp_path):
    tab = tmp_path / "mailusers.tab"
    old = '"old.test"\t"keep"\t"11001611"\t7\t"keep"\t"U"\n'
    tab.write_text(old)
    r = run("mkusers", "-r", str(tmp_path), stdin=THREE_USERS)
    assert r.returncode == 1
    assert "already exists" in r.stderr
    assert read(tab) == old
    assert not (tmp_path / "domains").exists()
    r = run("mkusers", "-a", "3", "-r", str(tmp_path))
    assert r.returncode == 1
    assert read(tab) == old
    assert not (tmp_path / "domains").exists()


def test_mkusers_id_base_and_size(tmp_path):
    r = run("mkusers", "-i", "100", "-s", "25000", "-r", str(tmp_path),
            stdin=THREE_USERS)
    assert r.returncode == 0, r.stderr
    lines = read(tmp_path / "mailusers.tab").splitlines()
    assert [ln.split("\t")[3] for ln in lines] == ["100", "101", "102"]
    bob = tmp_path / "domains" / "a.test" / "bob"
    assert read(bob / "user.tab") == user_tab(
        "Bob", "http://a.test/~bob", "25000")


def test_mkusers_keeps_existing_user_tab(tmp_path):
    bob = tmp_path / "domains" / "a.test" / "bob"
    bob.mkdir(parents=True)
    (bob / "user.tab").write_text('"RealName"\t"Old Bob"\n')
    r = run("mkusers", "-r", str(tmp_path), stdin=THREE_USERS)
    assert r.returncode == 0, r.stderr
    assert read(bob / "user.tab") == '"RealName"\t"Old Bob"\n'
    assert (bob / "mailbox").is_dir()


def test_mkusers_domains_reminder(tmp_path):
    (tmp_path / "domains.tab").write_text('"a.test"\n')
    r = run("mkusers", "-r", str(tmp_path), stdin=THREE_USERS)
    assert r.returncode == 0, r.stderr
    assert "b.test" in r.stdout
    assert "  a.test" not in r.stdout
    assert read(tmp_path / "domains.tab") == '"a.test"\n'


def test_mkusers_help():
    r = run("mkusers", "-h")
    assert r.returncode == 0
    for opt in ("-a", "-d", "-f", "-u", "-r", "-s", "-i", "-m", "-h"):
        assert opt in r.stdout


@pytest.mark.parametrize("args", [
    ["-x"],
    ["-a", "zero"],
    ["-a", "0"],
    ["-i", "0"],
    ["-s", "-5"],
    ["-i"],
    ["stray"],
])
def test_mkusers_bad_usage(tmp_path, args):
    r = run("mkusers", "-r", str(tmp_path), *args)
    assert r.returncode == 2
    assert "usage" in r.stderr
    assert not (tmp_path / "mailusers.tab").exists()
    assert not (tmp_path / "domains").exists()
