"""`postroom serve`: options, PID file, signals, .shutdown, reload."""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import DOMAIN, POSTROOM, finger, free_port, run


def serve_fails(*args, env=None):
    """Run `postroom serve` expecting an immediate failure."""
    e = dict(os.environ)
    e.pop("MAIL_ROOT", None)
    e.pop("MAIL_CMD_LINE", None)
    e.update(env or {})
    p = subprocess.run([POSTROOM, "serve", *args], capture_output=True,
                       text=True, env=e, timeout=60,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("args,message", [
    (["-Zz"], "-Zz"),
    (["-Sq"], "-Sq"),
    (["-Sp", "abc"], "-Sp"),
    (["-Sp", "0"], "-Sp"),
    (["-Fp", "65536"], "-Fp"),
    (["-SI", "mail.example.com"], "-SI"),
    (["-Qn", "300"], "-Qn"),
    (["-Sp"], "-Sp"),
    (["stray"], "stray"),
])
def test_bad_options_exit_2(mailroot, args, message):
    rc, out = serve_fails("-Ms", str(mailroot), *args)
    assert rc == 2
    assert message in out


def test_bad_option_in_mail_cmd_line(mailroot):
    rc, out = serve_fails("-Ms", str(mailroot),
                          env={"MAIL_CMD_LINE": "-Fp nope"})
    assert rc == 2
    assert "MAIL_CMD_LINE" in out


def test_no_mailroot(tmp_path):
    rc, out = serve_fails()
    assert rc == 2
    assert "MAIL_ROOT" in out
    rc, out = serve_fails("-Ms", str(tmp_path / "missing"),
                          env={"XMAIL_PID_DIR": str(tmp_path)})
    assert rc != 0
    assert "missing" in out


def test_help_lists_every_group():
    p = run("serve", "--help")
    for group in ("[XMAIL]", "[POP3]", "[POP3S]", "[SMTP]", "[SMTPS]",
                  "[SMAIL]", "[PSYNC]", "[FINGER]", "[CTRL]", "[CTRLS]",
                  "[LMAIL]"):
        assert group in p.stdout


def test_sigterm_stops_cleanly_and_removes_pid_file(server):
    assert int(server.pidfile.read_text()) == server.proc.pid
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    assert not server.pidfile.exists()
    assert "postroom stopped" in server.log()


def test_sigint_stops_cleanly(server):
    server.signal(signal.SIGINT)
    assert server.wait_exit() == 0
    assert "SIGINT" in server.log()


def test_shutdown_file(server, mailroot):
    (mailroot / ".shutdown").write_text("")
    assert server.wait_exit(timeout=15) == 0
    assert not (mailroot / ".shutdown").exists()
    assert ".shutdown file" in server.log()


def test_stale_shutdown_file_is_ignored_at_start(mailroot, start_server):
    (mailroot / ".shutdown").write_text("")
    srv = start_server(mailroot)
    time.sleep(1.2)
    assert srv.proc.poll() is None
    assert finger(srv.ports["finger"], "alice@" + DOMAIN) != b""


def test_open_session_finishes_during_shutdown(server):
    port = server.ports["finger"]
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    time.sleep(0.2)
    server.signal(signal.SIGTERM)
    server.wait_log("shutting down (SIGTERM), 1 session(s) open")
    time.sleep(0.3)
    with socket.socket() as s2:
        assert s2.connect_ex(("127.0.0.1", port)) != 0
    s.sendall(b"alice@" + DOMAIN.encode() + b"\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"EMail       : alice@")
    assert server.wait_exit() == 0


def test_sighup_reloads(server):
    start = len(server.log())
    server.signal(signal.SIGHUP)
    server.wait_log("configuration reloaded (SIGHUP)", start=start)
    assert server.proc.poll() is None


def test_second_instance_refused(server, mailroot, tmp_path):
    other = tmp_path / "pid2"
    other.mkdir()
    rc, out = serve_fails("-Ms", str(mailroot), "-F-",
                          env={"XMAIL_PID_DIR": str(other)})
    assert rc != 0
    assert "another postroom" in out


def test_port_in_use_is_reported(mailroot, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        rc, out = serve_fails("-Ms", str(mailroot), "-Fp", str(port),
                              "-FI", "127.0.0.1",
                              env={"XMAIL_PID_DIR": str(tmp_path)})
    assert rc != 0
    assert "cannot listen on 127.0.0.1 port %d" % port in out
    assert not (tmp_path / "postroom.pid").exists()


def test_environment_mail_root_and_cmd_line(mailroot, start_server,
                                            tmp_path):
    port = free_port()
    env = {"MAIL_ROOT": str(mailroot),
           "MAIL_CMD_LINE": "-Fp %d -FI 127.0.0.1" % port}
    srv = start_server(mailroot, env=env)
    assert finger(port, "bob@" + DOMAIN).startswith(b"EMail")


def test_ipv6_listener(mailroot, start_server):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback here")
    srv = start_server(mailroot, "-FI", "[::1]:%d" % port)
    s = socket.create_connection(("::1", port), timeout=5)
    s.sendall(b"alice@" + DOMAIN.encode() + b"\r\n")
    assert s.recv(100).startswith(b"EMail")
    s.close()
    assert srv.proc.poll() is None


def test_malformed_tab_lines_reported_and_skipped(mailroot, start_server):
    users = mailroot / "mailusers.tab"
    good = users.read_text()
    users.write_text('"example.test"\t"broken\t"x"\t7\t"broken"\t"U"\n'
                     '"example.test" "spaced" "x" 8 "spaced" "U"\n' + good)
    srv = start_server(mailroot)
    log = srv.log()
    assert "mailusers.tab:1: " in log
    assert "mailusers.tab:2: " in log
    # The valid lines after the bad ones still work.
    assert finger(srv.ports["finger"], "alice@" + DOMAIN).startswith(
        b"EMail")


def test_overlong_tab_line_is_an_error(mailroot, start_server):
    with open(mailroot / "server.tab", "a") as f:
        f.write('"CustomSMTPMessage"\t"%s"\n' % ("x" * 9000))
    srv = start_server(mailroot)
    assert "server.tab:" in srv.log()
    assert "too long" in srv.log()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_privilege_drop(start_server):
    import pwd
    import shutil
    import tempfile
    nobody = pwd.getpwnam("nobody")
    base = tempfile.mkdtemp(prefix="postroom-priv-", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        from pathlib import Path
        from conftest import init_mailroot
        root = init_mailroot(Path(base) / "MailRoot")
        for dirpath, dirnames, filenames in os.walk(root):
            os.chown(dirpath, nobody.pw_uid, nobody.pw_gid)
            for f in filenames:
                os.chown(os.path.join(dirpath, f), nobody.pw_uid,
                         nobody.pw_gid)
        # A missing pop3locks/ is created as root, then handed over.
        shutil.rmtree(root / "pop3locks")
        srv = start_server(root, "--user", "nobody", "-Fl")
        assert "running as user nobody" in srv.log()
        assert (root / "pop3locks").stat().st_uid == nobody.pw_uid
        with open("/proc/%d/status" % srv.proc.pid) as f:
            uids = [l for l in f if l.startswith(("Uid:", "Gid:"))]
        assert uids[0].split()[1:] == [str(nobody.pw_uid)] * 4
        assert uids[1].split()[1:] == [str(nobody.pw_gid)] * 4
        # It still reads the MailRoot and writes its service log.
        assert finger(srv.ports["finger"], "alice@" + DOMAIN).startswith(
            b"EMail")
        logs = list((root / "logs").glob("finger-*"))
        assert logs and logs[0].stat().st_uid == nobody.pw_uid
        # POP3S: the key was read as root; logins lock as nobody.
        import poplib
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        p = poplib.POP3_SSL("127.0.0.1", srv.ports["pop3s"], context=ctx,
                            timeout=10)
        p.user("alice@" + DOMAIN)
        p.pass_("secret")
        assert p.stat() == (0, 0)
        p.quit()
        srv.signal(signal.SIGTERM)
        assert srv.wait_exit() == 0
    finally:
        shutil.rmtree(base)


def test_user_option_needs_root(mailroot, tmp_path):
    if os.geteuid() == 0:
        rc, out = serve_fails("-Ms", str(mailroot), "--user",
                              "no-such-user-xyz",
                              env={"XMAIL_PID_DIR": str(tmp_path)})
        assert rc == 77
        assert "no such user" in out
    else:
        rc, out = serve_fails("-Ms", str(mailroot), "--user", "nobody",
                              env={"XMAIL_PID_DIR": str(tmp_path)})
        assert rc == 77
        assert "needs to start as root" in out


def test_out_of_descriptors_pauses_and_recovers(mailroot, tmp_path):
    """With few descriptors the server neither spins nor dies."""
    import resource
    from conftest import Server

    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    srv = Server(mailroot, tmp_path, ["--loops", "1"])
    srv.proc.kill()
    srv.proc.wait()
    srv.proc = subprocess.Popen(
        [POSTROOM, "serve", "-Ms", str(mailroot), "--loops", "1",
         "--workers", "1", "-S-", "-X-", "-P-", "-B-", "-C-", "-W-",
         "-Fp", str(srv.ports["finger"]), "-FI", "127.0.0.1"],
        stdout=srv.log_fp, stderr=subprocess.STDOUT, env=srv.env,
        stdin=subprocess.DEVNULL, preexec_fn=low_nofile)
    try:
        check_pause_and_recovery(srv)
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


def check_pause_and_recovery(srv):
    srv.wait_ready()
    port = srv.ports["finger"]
    held = []
    try:
        for _ in range(120):
            held.append(socket.create_connection(("127.0.0.1", port),
                                                 timeout=5))
        srv.wait_log("accept failed: Too many open files")
        time.sleep(2)
        # Paused, not spinning: a handful of reports, not thousands.
        assert srv.log().count("accept failed") < 20
        assert srv.proc.poll() is None
    finally:
        for s in held:
            s.close()
    # Once descriptors are free again it serves normally.
    deadline = time.monotonic() + 10
    while True:
        try:
            if finger(port, "alice@" + DOMAIN).startswith(b"EMail"):
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, srv.log()
        time.sleep(0.2)
    assert srv.stop() == 0
    assert not srv.sanitizer_errors(), srv.log()


def test_two_services_on_one_port_refused(mailroot, start_server):
    """Every listener uses SO_REUSEPORT, so two services given the same
    address and port would silently share its connections: refused."""
    port = free_port()
    srv = start_server(mailroot, "-Sp", str(port), "-Cp", str(port),
                       ready=False)
    srv.expected_rc = srv.wait_exit()
    assert srv.expected_rc != 0
    assert "ctrl: cannot listen on 127.0.0.1 port %d: already used by smtp" \
        % port in srv.log()
