"""`postroom init`: the MailRoot tree of the manual, with safe defaults."""
import stat
import subprocess

from conftest import run

MANUAL_FILES = """aliases.tab aliasdomain.tab domains.tab dnsroots extaliases.tab
mailusers.tab message.id pop3links.tab server.tab server.cert server.key
smtpgw.tab smtpfwd.tab smtprelay.tab smtpauth.tab smtpextauth.tab userdef.tab
ctrlaccounts.tab spammers.tab spam-address.tab pop3.ipmap.tab smtp.ipmap.tab
ctrl.ipmap.tab finger.ipmap.tab filters.in.tab filters.out.tab
filters.post-rcpt.tab filters.pre-data.tab filters.post-data.tab
smtp.ipprop.tab smtp.hnprop.tab""".split()

MANUAL_DIRS = """bin cmdaliases tabindex dnscache dnscache/mx dnscache/ns
custdomains filters logs pop3locks pop3linklocks pop3links spool spool/local
spool/temp userauth userauth/pop3 userauth/smtp domains msgsync""".split()

SPOOL_SUBDIRS = "mess rsnd info temp slog lock mprc froz".split()


def records(path):
    """Non-comment lines of a TAB file, split into unquoted fields."""
    out = []
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        out.append([f.strip('"') for f in line.split("\t") if f])
    return out


def test_tree_matches_manual(tmp_path):
    root = tmp_path / "MR"
    run("init", "--domain", "mail.example.test", "--user", "joe:pw1",
        "--split", "5", str(root))
    for name in MANUAL_FILES:
        assert (root / name).is_file(), name
    for name in MANUAL_DIRS:
        assert (root / name).is_dir(), name
    for a in range(5):
        for b in range(5):
            for sub in SPOOL_SUBDIRS:
                assert (root / "spool" / str(a) / str(b) / sub).is_dir()
    assert not (root / "spool" / "5").exists()
    assert (root / "domains" / "mail.example.test").is_dir()
    assert (root / "cmdaliases" / "mail.example.test").is_dir()
    acct = root / "domains" / "mail.example.test" / "joe"
    for sub in ("Maildir/tmp", "Maildir/new", "Maildir/cur"):
        assert (acct / sub).is_dir()
    assert ["RealName", "??"] in records(acct / "user.tab")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_safe_defaults(tmp_path):
    root = tmp_path / "MR"
    run("init", "--domain", "example.test", str(root))
    assert (root / "message.id").read_bytes() == b"1\r\n"
    # No administrator unless asked for.
    assert records(root / "ctrlaccounts.tab") == []
    # Only loopback may relay.
    assert records(root / "smtprelay.tab") == [
        ["127.0.0.0", "255.0.0.0"], ["::1/128"]]
    assert records(root / "domains.tab") == [["example.test"]]
    server = dict((r[0], r[1]) for r in records(root / "server.tab"))
    assert server["RootDomain"] == "example.test"
    assert server["PostMaster"] == "postmaster@example.test"
    assert server["DefaultSmtpPerms"] == "MR"
    assert stat.S_IMODE((root / "server.key").stat().st_mode) == 0o600
    assert len((root / "dnsroots").read_text().split()) == 13


def test_certificate_is_valid(tmp_path):
    root = tmp_path / "MR"
    run("init", "--domain", "cert.example.test", str(root))
    out = subprocess.run(
        ["openssl", "x509", "-in", str(root / "server.cert"), "-noout",
         "-subject", "-ext", "subjectAltName"],
        capture_output=True, text=True, check=True).stdout
    assert "CN = cert.example.test" in out
    assert "DNS:cert.example.test" in out
    # The key belongs to the certificate.
    pub1 = subprocess.run(["openssl", "x509", "-in", str(root / "server.cert"),
                           "-noout", "-pubkey"], capture_output=True,
                          check=True).stdout
    pub2 = subprocess.run(["openssl", "pkey", "-in", str(root / "server.key"),
                           "-pubout"], capture_output=True, check=True).stdout
    assert pub1 == pub2


def test_admin_and_users(tmp_path):
    root = tmp_path / "MR"
    run("init", "--domain", "example.test", "--admin", "boss:test",
        "--user", "alice:secret", "--user", "bob:password", str(root))
    assert records(root / "ctrlaccounts.tab") == [["boss", "11001611"]]
    assert records(root / "mailusers.tab") == [
        ["example.test", "alice", "160006170011", "1", "alice", "U"],
        ["example.test", "bob", "15041616120a1701", "2", "bob", "U"]]
    # The numeric id is written unquoted, as XMail does.
    assert "\t1\t" in (root / "mailusers.tab").read_text()
    assert records(root / "aliases.tab") == [
        ["example.test", "postmaster", "alice"],
        ["example.test", "root", "alice"]]


def test_refuses_existing_mailroot(tmp_path):
    root = tmp_path / "MR"
    run("init", "--domain", "example.test", str(root))
    before = (root / "server.tab").read_bytes()
    p = run("init", "--domain", "other.test", str(root), check=False)
    assert p.returncode == 1
    assert "already holds a MailRoot" in p.stderr
    assert (root / "server.tab").read_bytes() == before
    other = tmp_path / "nonempty"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    p = run("init", "--domain", "example.test", str(other), check=False)
    assert p.returncode == 1
    assert (other / "keep.txt").read_text() == "x"


def test_bad_arguments(tmp_path):
    for args in (["--domain", "bad domain"], ["--user", "nopass"],
                 ["--user", "../x:pw"], ["--split", "0"], []):
        p = run("init", *args, *([] if not args else [str(tmp_path / "x")]),
                check=False)
        assert p.returncode == 2, args
    assert not (tmp_path / "x").exists()
