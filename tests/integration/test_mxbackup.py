"""Backup MX: a postroom on 127.0.0.3 is the secondary mail exchanger of
prim.test, whose primary is a second postroom on 127.0.0.2; dnsmasq
serves the MX records (primary preference 10, backup 20).  The backup
knows itself in the MX set by its HeloDomain (mx2.prim.test)."""

import email
import smtplib
import subprocess
import time

import pytest

from conftest import init_mailroot, maildir_new, wait_messages
from peers import Dnsmasq, free_port

PRIMARY = "127.0.0.2"
BACKUP = "127.0.0.3"
TWIN = "127.0.0.4"      # a second backup with the same preference
RECORDS = [
    "--mx-host=prim.test,mx1.prim.test,10",
    "--mx-host=prim.test,mx2.prim.test,20",
    "--mx-host=prim.test,mx3.prim.test,20",
    "--host-record=mx3.prim.test,%s" % TWIN,
    "--mx-host=sub.prim.test,mx1.prim.test,10",
    "--mx-host=sub.prim.test,mx2.prim.test,20",
    "--host-record=mx1.prim.test,%s" % PRIMARY,
    "--host-record=mx2.prim.test,%s" % BACKUP,
    # A zone where the backup is the best (only) MX: a DNS mistake.
    "--mx-host=lonely.test,mx2.prim.test,10",
]


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    d = Dnsmasq(tmp_path_factory.mktemp("dns"), RECORDS).start()
    yield d
    d.stop()


def tab(path, rows):
    path.write_text("".join("\t".join('"%s"' % f for f in r) + "\n"
                            for r in rows))


def add_server_tab(root, values):
    with open(root / "server.tab", "a") as f:
        for k, v in values.items():
            f.write('"%s"\t"%s"\n' % (k, v))


@pytest.fixture
def sites(tmp_path, dns, start_server):
    """sites(mode="DOMAIN", backup_tab={}, start_primary=True) ->
    (primary_root, start_primary(), backup Server); the primary's SMTP
    port is fixed so it can be (re)started later."""
    port = free_port((PRIMARY, "127.0.0.1"))
    proot = init_mailroot(tmp_path / "primary", domain="prim.test",
                          users={"pat": "pw"})
    (proot / "smtprelay.tab").write_text("")
    broot = init_mailroot(tmp_path / "backup")
    (broot / "smtprelay.tab").write_text("")   # the backup relays nothing
    piddir = tmp_path / "pid-primary"
    piddir.mkdir()

    def start_primary():
        return start_server(proot, "-Sp", str(port), "-SI", PRIMARY,
                            env={"XMAIL_PID_DIR": str(piddir)})

    def start_twin():
        """A second backup of prim.test (mx3, preference 20 like mx2)
        listening where the MX records send mail: TWIN:port."""
        troot = init_mailroot(tmp_path / "twin")
        (troot / "smtprelay.tab").write_text("")
        add_server_tab(troot, {"SmartDNSHost": dns.smart_dns_host,
                               "SmtpMXPort": str(port),
                               "HeloDomain": "mx3.prim.test"})
        tab(troot / "mxbackup.tab", [("prim.test", "DOMAIN")])
        tdir = tmp_path / "pid-twin"
        tdir.mkdir()
        srv = start_server(troot, "-Sp", str(port), "-SI", TWIN,
                           "-Qt", "1", "-Qi", "0",
                           env={"XMAIL_PID_DIR": str(tdir)})
        srv.mx_port = port
        return srv

    def make(mode="DOMAIN", backup_tab=None, start_primary_now=True,
             domain="prim.test", twin=False):
        add_server_tab(broot, {"SmartDNSHost": dns.smart_dns_host,
                               "SmtpMXPort": str(port),
                               "HeloDomain": "mx2.prim.test",
                               **(backup_tab or {})})
        tab(broot / "mxbackup.tab", [(domain, mode)])
        primary = start_primary() if start_primary_now else None
        backup = start_server(broot, "-SI", BACKUP, "-Qt", "1", "-Qi", "0")
        if twin:
            return proot, start_primary, backup, start_twin()
        return proot, primary, start_primary, backup

    return make


def pat_messages(proot, n, timeout=10):
    return wait_messages(proot, "pat", n, timeout=timeout,
                         domain="prim.test")


def send(srv, rcpt, sender="someone@sender.test"):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as c:
        c.ehlo("client.test")
        return c.sendmail(sender, [rcpt], "From: %s\r\nTo: %s\r\n"
                          "Subject: via backup\r\n\r\nhello\r\n" %
                          (sender, rcpt))


def rcpt_code(srv, rcpt):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as c:
        c.ehlo("client.test")
        c.mail("someone@sender.test")
        return c.rcpt(rcpt)


def test_backup_keeps_mail_until_the_primary_is_back(sites):
    proot, _, start_primary, backup = sites(start_primary_now=False)
    assert send(backup, "pat@prim.test") == {}
    backup.wait_log("accepted <pat@prim.test> for backup MX")
    backup.wait_log("queue: deferred id=")
    start_primary()
    [m] = pat_messages(proot, 1, timeout=15)
    backup.wait_log("(backup MX: to the primary)")
    msg = email.message_from_bytes(m)
    received = msg.get_all("Received")
    assert len(received) >= 2                   # backup, then primary
    time.sleep(2)
    assert len(pat_messages(proot, 1, timeout=0)) == 1


def test_backup_is_not_an_open_relay(sites):
    _, _, _, backup = sites()
    assert rcpt_code(backup, "pat@prim.test")[0] == 250
    for probe in ("x@other.test", "x%other.test@prim.test.invalid",
                  "@mx2.prim.test:x@other.test", "x@other.test@prim.test"):
        assert rcpt_code(backup, probe)[0] >= 500, probe


@pytest.mark.parametrize("mode,code", [("DOMAIN", 250), ("HOST", 550)])
def test_host_mode_refuses_subdomains(sites, mode, code):
    _, _, _, backup = sites(mode=mode)
    assert rcpt_code(backup, "pat@prim.test")[0] == 250
    assert rcpt_code(backup, "u@sub.prim.test")[0] == code


def test_smarthost_is_bypassed(sites):
    """Backup-MX mail goes to the primary even when everything else goes
    through a smarthost (here a dead one)."""
    dead = free_port()
    proot, _, _, backup = sites(backup_tab={
        "DefaultSMTPGateways": "127.0.0.1:%d" % dead})
    assert send(backup, "pat@prim.test") == {}
    assert len(pat_messages(proot, 1)) == 1


def test_best_mx_is_this_host_defers(sites):
    _, _, _, backup = sites(mode="HOST", domain="lonely.test")
    assert send(backup, "u@lonely.test") == {}
    backup.wait_log("I am its best MX")
    backup.wait_log("queue: deferred id=")
    assert backup.log().count("smtp: connect peer=") == 1


def test_enable_switch_without_restart(sites):
    _, _, _, backup = sites(backup_tab={"MXBackupEnable": "0"})
    assert rcpt_code(backup, "pat@prim.test")[0] == 550
    text = (backup.root / "server.tab").read_text()
    start = len(backup.log())
    (backup.root / "server.tab").write_text(
        text.replace('"MXBackupEnable"\t"0"', '"MXBackupEnable"\t"1"'))
    backup.wait_log("configuration reloaded", start=start)
    assert rcpt_code(backup, "pat@prim.test")[0] == 250


def test_etrn_from_the_primary_flushes(sites):
    proot, _, start_primary, backup = sites(
        start_primary_now=False, backup_tab={"AllowSmtpETRN": "1"})
    # A long retry time: only ETRN can bring it over quickly.
    backup.stop()
    backup = backup.__class__(backup.root, backup.workdir,
                              ["-SI", BACKUP, "-Qt", "3600"]).wait_ready()
    try:
        assert send(backup, "pat@prim.test") == {}
        backup.wait_log("queue: deferred id=")
        start_primary()
        with smtplib.SMTP("127.0.0.1", backup.ports["smtp"],
                          timeout=20) as c:
            c.ehlo("mx1.prim.test")
            code, text = c.docmd("ETRN", "prim.test")
            assert code == 250, text
        assert len(pat_messages(proot, 1)) == 1
    finally:
        backup.stop()


def test_two_backups_of_equal_preference_never_loop(sites):
    """mx2 and mx3 both have preference 20: neither may hand mail to the
    other (RFC 5321 5.1), even though mx3 listens where the MX records
    point; both hold their mail until the primary is back."""
    proot, start_primary, backup, twin = sites(start_primary_now=False,
                                               twin=True)
    assert send(backup, "pat@prim.test") == {}
    with smtplib.SMTP(TWIN, twin.mx_port, timeout=20) as c:
        c.ehlo("client.test")
        c.sendmail("someone@sender.test", ["pat@prim.test"],
                   "Subject: via the twin\r\n\r\nhello\r\n")
    for srv in (backup, twin):
        srv.wait_log("queue: deferred id=")
    time.sleep(3)                               # several retries
    for srv in (backup, twin):
        assert srv.log().count("for backup MX") == 1, srv.log()
    start_primary()
    assert len(pat_messages(proot, 2, timeout=15)) == 2
    time.sleep(2)
    assert len(pat_messages(proot, 2, timeout=0)) == 2


def test_postmaster_told_when_mail_is_held(sites):
    """MXBackupNotifyAfter: backup-MX mail waiting longer than that makes
    one notice to PostMaster (a local account here); the sender, sent
    with Postfix's smtp-source, is not told."""
    proot, _, start_primary, backup = sites(
        start_primary_now=False,
        backup_tab={"MXBackupNotifyAfter": "3",
                    "PostMaster": "alice@example.test"})
    subprocess.run(["smtp-source", "-m", "1", "-f", "src@sender.test",
                    "-t", "pat@prim.test", "-S", "held mail",
                    "127.0.0.1:%d" % backup.ports["smtp"]],
                   check=True, timeout=30, capture_output=True)
    backup.wait_log("accepted <pat@prim.test> for backup MX")
    [notice] = wait_messages(backup.root, "alice", 1, timeout=20)
    msg = email.message_from_bytes(notice)
    assert msg["Subject"].startswith(
        "Backup MX: mail for prim.test held 0 hours"), msg["Subject"]
    assert msg["To"] == "<alice@example.test>"
    text = msg.as_string()
    assert "backup MX for prim.test" in text
    assert "Action: delayed" in text
    backup.wait_log("telling PostMaster")
    told = [l for l in backup.log().splitlines() if "spooled for" in l]
    assert told and all("<alice@example.test>" in l and "src@sender" not in l
                        for l in told), told
    start_primary()
    [m] = pat_messages(proot, 1, timeout=15)
    assert b"held mail" in m
    time.sleep(1)
    assert len(list(maildir_new(backup.root, "alice").iterdir())) == 1


def test_callout_asks_the_primary(sites):
    """MXBackupVerify: RCPT for a backup domain is checked with the primary
    (MAIL FROM:<>, RCPT, no message); its refusal is passed on and
    remembered, and while the primary is down mail is accepted."""
    proot, primary, _, backup = sites(backup_tab={"MXBackupVerify": "1"})
    assert rcpt_code(backup, "pat@prim.test")[0] == 250
    backup.wait_log("<pat@prim.test> verified with the primary")
    code, text = rcpt_code(backup, "nobody@prim.test")
    assert code == 550 and b"5.1.1" in text, text
    backup.wait_log("<nobody@prim.test> refused by the primary")
    start = len(backup.log())
    assert rcpt_code(backup, "nobody@prim.test")[0] == 550
    backup.wait_log("(cached)", start=start)
    assert pat_messages(proot, 0, timeout=0) == []     # no message sent
    assert send(backup, "pat@prim.test") == {}
    assert len(pat_messages(proot, 1)) == 1
    primary.stop()
    assert rcpt_code(backup, "newbie@prim.test")[0] == 250
    backup.wait_log("<newbie@prim.test> not verified, accepted")
    assert rcpt_code(backup, "nobody@prim.test")[0] == 550


def test_callout_is_off_by_default(sites):
    _, primary, _, backup = sites()
    assert rcpt_code(backup, "nobody@prim.test")[0] == 250
    assert "callout:" not in backup.log()
