"""Finger request rate of postroom on loopback (bounded load).

usage: finger_load.py POSTROOM_BINARY [QUERIES] [CONCURRENCY]
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(port, q):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(q)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data
            data += chunk


def main():
    binary = sys.argv[1]
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    conc = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "MailRoot")
        subprocess.run([binary, "init", "--domain", "bench.test", "--split",
                        "1", "--user", "u:p", root], check=True,
                       stdout=subprocess.DEVNULL)
        port = free_port()
        env = dict(os.environ, XMAIL_PID_DIR=tmp)
        srv = subprocess.Popen([binary, "serve", "-Ms", root, "-Fp",
                                str(port), "-FI", "127.0.0.1"],
                               stderr=subprocess.DEVNULL, env=env)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    query(port, b"u@bench.test\r\n")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            per = total // conc
            errors = []

            def worker():
                for _ in range(per):
                    if not query(port, b"u@bench.test\r\n").startswith(
                            b"EMail"):
                        errors.append(1)

            threads = [threading.Thread(target=worker) for _ in range(conc)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            dt = time.monotonic() - t0
        finally:
            srv.terminate()
            srv.wait(timeout=30)
    n = per * conc
    print("finger: %d queries, %d connections in parallel: %.0f queries/s"
          " (%d errors)" % (n, conc, n / dt, len(errors)))
    print("(no Postfix equivalent)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
