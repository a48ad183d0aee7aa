"""POP3-before-SMTP: a POP3 login lets the same address send as that
account for -Se seconds (EnableAuthSMTP-POP3, DefaultSmtpPerms)."""
import poplib
import smtplib
import time

from conftest import DOMAIN, wait_messages

FOREIGN = "someone@elsewhere.test"


def setup_root(root, **server_vars):
    """No relaying by address: only an identity can open it."""
    (root / "smtprelay.tab").write_text("")
    with open(root / "server.tab", "a") as f:
        f.write('"Pop3AllowPlainAuth"\t"1"\n')
        for name, value in server_vars.items():
            f.write('"%s"\t"%s"\n' % (name, value))


def pop3_login(port, user, password):
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    p.user(user)
    p.pass_(password)
    p.quit()


def relay_code(port, sender):
    """RCPT reply code for a foreign recipient with this sender."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo("client.test")
        code, _ = s.mail(sender)
        assert code == 250
        code, _ = s.rcpt(FOREIGN)
        return code


def test_pop3_login_opens_relay_for_that_account(mailroot, start_server):
    setup_root(mailroot)
    srv = start_server(mailroot)
    assert relay_code(srv.ports["smtp"], "alice@" + DOMAIN) == 550
    pop3_login(srv.ports["pop3"], "alice@" + DOMAIN, "secret")
    assert (mailroot / "domains" / DOMAIN / "alice" / ".ipconn").exists()
    assert relay_code(srv.ports["smtp"], "alice@" + DOMAIN) == 250
    srv.wait_log("POP3-before-SMTP as alice@" + DOMAIN)
    # Another account that did not log in stays refused.
    assert relay_code(srv.ports["smtp"], "bob@" + DOMAIN) == 550


def test_pop3_before_smtp_message_carries_identity(mailroot, start_server):
    setup_root(mailroot)
    srv = start_server(mailroot)
    pop3_login(srv.ports["pop3"], "bob@" + DOMAIN, "hunter2")
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as s:
        s.sendmail("bob@" + DOMAIN, ["alice@" + DOMAIN],
                   b"Subject: pbs\r\n\r\nhello\r\n")
    data = wait_messages(mailroot, "alice", 1)[0]
    assert b"X-AuthUser: bob@" + DOMAIN.encode() in data


def test_pop3_before_smtp_disabled(mailroot, start_server):
    setup_root(mailroot, **{"EnableAuthSMTP-POP3": "0"})
    srv = start_server(mailroot)
    pop3_login(srv.ports["pop3"], "alice@" + DOMAIN, "secret")
    assert relay_code(srv.ports["smtp"], "alice@" + DOMAIN) == 550


def test_pop3_before_smtp_expires(mailroot, start_server):
    setup_root(mailroot)
    srv = start_server(mailroot, "-Se", "1")
    pop3_login(srv.ports["pop3"], "alice@" + DOMAIN, "secret")
    time.sleep(2.2)
    assert relay_code(srv.ports["smtp"], "alice@" + DOMAIN) == 550


def test_failed_pop3_login_opens_nothing(mailroot, start_server):
    setup_root(mailroot)
    srv = start_server(mailroot, "-Pw", "0")
    p = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=10)
    p.user("alice@" + DOMAIN)
    try:
        p.pass_("wrong")
    except poplib.error_proto:
        pass
    p.quit()
    assert relay_code(srv.ports["smtp"], "alice@" + DOMAIN) == 550
