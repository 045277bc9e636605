#!/usr/bin/env python3
"""t/fcgi-peer.py — hostile and plain FastCGI peers for the token service
tests (t/token-limits.sh, t/token-restart.sh).  Straight to the socket,
no web server, so each misbehaviour is exactly what the test says.

  idle SOCK N SECONDS        open N connections that never send a byte;
                             after SECONDS print how many the server closed
  pipeline SOCK N REQS PID   N connections each send REQS token requests
                             at once and never read; print the growth of
                             PID's VmRSS in KiB once the server stalls
  ask SOCK                   one token request; print the status line
  stall SOCK PID SIGNAL      begin a request, send SIGNAL to PID, finish
                             the request 0.5 s later; print the status
  http URL SECONDS THREADS   POST {} to URL from THREADS clients until
                             SECONDS pass; print "<status> <count>" lines
  busy SOCK N PID NOFILE RAISED   N connections each begin a request
                             and stop half-way (busy, none idle); PID's
                             RLIMIT_NOFILE is cut to NOFILE (accept: EMFILE
                             with nothing to close) and a new connection
                             asks.  Prints "early STATUS" if it is answered
                             while they hold, "busy MS STATUS" for one of
                             them finishing, "closed STATUS MS" for the new
                             one once half of them close; then descriptors
                             run out again, a second one asks, the limit is
                             raised to RAISED (nothing closes) and
                             "rearmed STATUS MS" is its answer
  launch SOCK SECONDS N -- CMD...   systemd's part: bind SOCK, run CMD
                             with it as fd 3 (LISTEN_FDS=1, LISTEN_PID),
                             restart it (SIGTERM, wait, start) every
                             SECONDS, N times; on SIGTERM stop it and
                             exit; print each start and exit status
"""
import collections, http.client, os, resource, signal, socket, struct, subprocess, sys
import threading, time, urllib.parse


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def record(rtype, rid, content=b""):
    return struct.pack(">BBHHBB", 1, rtype, rid, len(content), 0, 0) + content


def pair(name, value):
    n, v = name.encode(), value.encode()
    return bytes([len(n), len(v)]) + n + v


def request(rid=1, body=b"{}", keep=True):
    params = b"".join(pair(k, v) for k, v in (
        ("REQUEST_METHOD", "POST"), ("DOCUMENT_URI", "/api/token"),
        ("CONTENT_TYPE", "application/json"), ("CONTENT_LENGTH", str(len(body)))))
    return (record(1, rid, struct.pack(">HB5x", 1, 1 if keep else 0)) +
            record(4, rid, params) + record(4, rid) +
            record(5, rid, body) + record(5, rid))


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s


def status(s):
    """Read one answer's records up to END_REQUEST; the Status line."""
    buf, out = b"", b""
    s.settimeout(10)
    while True:
        while len(buf) < 8 or len(buf) < 8 + struct.unpack(">H", buf[4:6])[0] + buf[6]:
            chunk = s.recv(65536)
            if not chunk:
                return "closed"
            buf += chunk
        _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", buf[:8])
        content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
        if rtype == 6:
            out += content
        elif rtype == 3:
            return out.split(b"\r\n", 1)[0].decode()


def rss(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "idle":
        raise_nofile()
        path, n, secs = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        conns = []
        for _ in range(n):
            conns.append(connect(path))
        print("open %d" % len(conns), flush=True)
        time.sleep(secs)
        closed = 0
        for s in conns:
            s.setblocking(False)
            try:
                closed += s.recv(1) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        print("closed %d" % closed, flush=True)
    elif cmd == "pipeline":
        raise_nofile()
        path, n, reqs, pid = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        before = rss(pid)
        one = request()
        conns = []
        for _ in range(n):
            s = connect(path)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setblocking(False)
            conns.append([s, one * reqs])
        deadline = time.time() + 3
        while time.time() < deadline and any(c[1] for c in conns):
            for c in conns:
                try:
                    if c[1]:
                        c[1] = c[1][c[0].send(c[1]):]
                except BlockingIOError:
                    pass
            time.sleep(0.01)
        time.sleep(1)
        print("grew %d" % (rss(pid) - before), flush=True)
    elif cmd == "busy":
        raise_nofile()
        path, n, pid, nofile = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
        full = request(keep=False)
        # BEGIN_REQUEST and the PARAMS record, without the empty PARAMS
        # that ends them: the server holds a request under way.
        half = len(full) - len(record(4, 1) + record(5, 1, b"{}") + record(5, 1))

        def limit(v):
            # the soft limit only: raising a hard one takes CAP_SYS_RESOURCE
            subprocess.run(["prlimit", "--pid", pid, "--nofile=%s:%s" % (v, sys.argv[6])],
                           check=True)

        def ask_bg():
            out = {}

            def run():
                try:
                    s = connect(path)
                    s.sendall(full)
                    out["status"] = status(s)
                except OSError as e:
                    out["status"] = "error %s" % e
                out["at"] = time.time()
            th = threading.Thread(target=run)
            th.start()
            return out, th

        def said(out):
            return out.get("status", "none").replace(" ", "_")
        conns = []
        for _ in range(n):
            s = connect(path)
            s.sendall(full[:half])
            conns.append(s)
        time.sleep(0.5)
        limit(nofile)
        # 1. accept: EMFILE, nothing idle to close: the new one waits.
        new1, th1 = ask_bg()
        time.sleep(1.0)
        if "status" in new1:
            print("early %s" % said(new1), flush=True)
        # 2. a busy one finishing is answered at once: no sleep.
        t0 = time.time()
        conns[0].sendall(full[half:])
        st = status(conns[0])
        print("busy %d %s" % (int((time.time() - t0) * 1000), st.replace(" ", "_")), flush=True)
        # 3. some close: the waiting one is served.
        t0 = time.time()
        for s in conns[1:n // 2]:
            s.close()
        th1.join(15)
        print("closed %s %d" % (said(new1), int((new1.get("at", t0) - t0) * 1000)), flush=True)
        # 4. out of descriptors again with nothing to close, then the limit
        # is raised: nothing closes, so only the listener's rest ending
        # (re-armed after 100 ms) lets the next one in.
        fds = set(int(x) for x in os.listdir("/proc/%s/fd" % pid))
        limit(min(i for i in range(len(fds) + 1) if i not in fds))
        new2, th2 = ask_bg()
        time.sleep(1.0)
        if "status" in new2:
            print("early %s" % said(new2), flush=True)
        t0 = time.time()
        limit(sys.argv[6])
        th2.join(15)
        print("rearmed %s %d" % (said(new2), int((new2.get("at", t0) - t0) * 1000)), flush=True)
        for s in conns[n // 2:]:
            s.close()
    elif cmd == "ask":
        s = connect(sys.argv[2])
        s.sendall(request(keep=False))
        print(status(s))
    elif cmd == "stall":
        path, pid, sig = sys.argv[2], int(sys.argv[3]), getattr(signal, sys.argv[4])
        s = connect(path)
        r = request(keep=False)
        s.sendall(r[:30])
        time.sleep(0.3)
        os.kill(pid, sig)
        time.sleep(0.5)
        s.sendall(r[30:])
        print(status(s))
    elif cmd == "http":
        url, secs, n = urllib.parse.urlsplit(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
        counts, lock = collections.Counter(), threading.Lock()
        end = time.time() + secs

        def client():
            conn = None
            while time.time() < end:
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
                    conn.request("POST", url.path, b"{}", {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    r.read()
                    got = str(r.status)
                except Exception as e:
                    got, conn = type(e).__name__, None
                with lock:
                    counts[got] += 1
        threads = [threading.Thread(target=client) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for k, v in sorted(counts.items()):
            print(k, v)
    elif cmd == "launch":
        path, secs, n = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
        argv = sys.argv[sys.argv.index("--") + 1:]
        ls = socket.socket(socket.AF_UNIX)
        ls.bind(path)
        ls.listen(1024)
        if ls.fileno() != 3:
            os.dup2(ls.fileno(), 3)
        os.set_inheritable(3, True)

        def start():
            pid = os.fork()
            if pid == 0:
                os.environ["LISTEN_PID"] = str(os.getpid())
                os.environ["LISTEN_FDS"] = "1"
                os.execv(argv[0], argv)
            return pid

        stop = []
        signal.signal(signal.SIGTERM, lambda *a: stop.append(1))

        def restart(pid):
            os.kill(pid, signal.SIGTERM)
            print("exit %d" % os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)

        pid = start()
        print("started %d" % pid, flush=True)
        due = time.time() + secs
        while not stop:
            time.sleep(0.02)
            if n > 0 and time.time() >= due:
                restart(pid)
                pid = start()
                print("started %d" % pid, flush=True)
                n -= 1
                due = time.time() + secs
        restart(pid)
    else:
        sys.exit("unknown command " + cmd)


main()
