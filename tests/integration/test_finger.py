"""The finger service (RFC 1288) through a raw TCP client."""
import socket
import time

from conftest import DOMAIN, finger


def expected(addr, name="??", page="??"):
    return ("EMail       : %s\r\n  Real Name : %s\r\n  Home Page : %s\r\n"
            % (addr, name, page)).encode()


def set_user_var(root, user, name, value):
    path = root / "domains" / DOMAIN / user / "user.tab"
    lines = [l for l in path.read_text().splitlines()
             if not l.startswith('"%s"\t' % name)]
    lines.append('"%s"\t"%s"' % (name, value))
    path.write_text("\n".join(lines) + "\n")


def test_known_user(server):
    port = server.ports["finger"]
    assert finger(port, "alice@" + DOMAIN) == expected("alice@" + DOMAIN)


def test_user_tab_details(server, mailroot):
    set_user_var(mailroot, "bob", "RealName", "Bob Example")
    set_user_var(mailroot, "bob", "HomePage", "https://bob.example.test/")
    assert finger(server.ports["finger"], "bob@" + DOMAIN) == expected(
        "bob@" + DOMAIN, "Bob Example", "https://bob.example.test/")


def test_alias_resolves_to_account(server):
    # postroom init makes postmaster and root aliases of the first user.
    assert finger(server.ports["finger"], "postmaster@" + DOMAIN) == \
        expected("alice@" + DOMAIN)


def test_case_insensitive_and_verbose_switch(server):
    port = server.ports["finger"]
    assert finger(port, "/W ALICE@Example.Test") == expected(
        "alice@" + DOMAIN)


def test_bare_name_uses_pop3domain(server):
    assert finger(server.ports["finger"], "bob") == expected("bob@" + DOMAIN)


def test_unknown_user_gets_nothing(server):
    port = server.ports["finger"]
    assert finger(port, "mallory@" + DOMAIN) == b""
    assert finger(port, "alice@elsewhere.test") == b""
    server.wait_log("query=mallory@example.test: no such user")


def test_refused_queries(server):
    port = server.ports["finger"]
    assert finger(port, "") == b"Empty query not allowed\r\n"
    assert finger(port, "alice@%s@other.host" % DOMAIN) == \
        b"Indirect query not allowed\r\n"
    assert finger(port, "/X alice") == b"Invalid query\r\n"
    assert finger(port, "al\xe9ce".encode("latin-1") + b"\r\n") == \
        b"Invalid query\r\n"
    assert finger(port, b"alice\x00@" + DOMAIN.encode() + b"\r\n") == \
        b"Invalid query\r\n"
    # A bare LF is not a line end: the line has a control character.
    assert finger(port, b"alice\n@x\r\n") == b"Invalid query\r\n"


def test_overlong_query(server):
    port = server.ports["finger"]
    assert finger(port, b"a" * 5000 + b"\r\n") == b"Invalid query\r\n"
    assert finger(port, b"a" * 513 + b"\r\n") == b"Invalid query\r\n"
    # Exactly at the limit is a query (for an unknown user).
    assert finger(port, b"a" * 512 + b"\r\n") == b""
    # The server is still fine.
    assert finger(port, "alice@" + DOMAIN) == expected("alice@" + DOMAIN)


def test_ipmap_edit_applies_without_restart(server, mailroot):
    port = server.ports["finger"]
    ipmap = mailroot / "finger.ipmap.tab"
    start = len(server.log())
    ipmap.write_text('"127.0.0.0"\t"255.0.0.0"\t"DENY"\t5\n'
                     '"0.0.0.0"\t"0.0.0.0"\t"ALLOW"\t1\n')
    server.wait_log("configuration reloaded (finger.ipmap.tab)", start=start)
    assert finger(port, "alice@" + DOMAIN) == b""
    server.wait_log("finger.ipmap.tab denies this address")
    # Higher precedence wins; on a tie the later line wins.
    start = len(server.log())
    ipmap.write_text('"127.0.0.0"\t"255.0.0.0"\t"DENY"\t5\n'
                     '"127.0.0.1/32"\t"ALLOW"\t5\n')
    server.wait_log("configuration reloaded", start=start)
    assert finger(port, "alice@" + DOMAIN) == expected("alice@" + DOMAIN)


def test_new_account_visible_without_restart(server, mailroot):
    port = server.ports["finger"]
    assert finger(port, "carol@" + DOMAIN) == b""
    start = len(server.log())
    with open(mailroot / "mailusers.tab", "a") as f:
        f.write('"%s"\t"carol"\t"11001611"\t9\t"carol"\t"U"\n' % DOMAIN)
    server.wait_log("configuration reloaded (mailusers.tab)", start=start)
    assert finger(port, "carol@" + DOMAIN) == expected("carol@" + DOMAIN)


def test_finger_log_records_queries(mailroot, start_server):
    srv = start_server(mailroot, "-Fl")
    finger(srv.ports["finger"], "alice@" + DOMAIN)
    logs = list((mailroot / "logs").glob("finger-*"))
    assert len(logs) == 1
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "alice" not in logs[0].read_text():
        time.sleep(0.05)
    rec = logs[0].read_text().splitlines()[-1].split("\t")
    assert rec[0] == '"127.0.0.1"'
    assert rec[2] == '"127.0.0.1"'
    assert rec[4] == '"alice@%s"' % DOMAIN


def test_disabled_service_does_not_listen(mailroot, start_server):
    srv = start_server(mailroot, "-F-")
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", srv.ports["finger"])) != 0


def test_many_concurrent_queries(server):
    port = server.ports["finger"]
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10)
             for _ in range(50)]
    for i, s in enumerate(socks):
        who = "alice" if i % 2 else "bob"
        s.sendall(("%s@%s\r\n" % (who, DOMAIN)).encode())
    for i, s in enumerate(socks):
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        who = "alice" if i % 2 else "bob"
        assert data == expected("%s@%s" % (who, DOMAIN))
