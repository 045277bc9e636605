#!/usr/bin/env python3
"""t/deb-launch.py — start a service the way its systemd socket unit does,
for t/deb.sh on a machine where systemd is not PID 1 (CI's containers).

  deb-launch.py --listen PATH --group GROUP --mode 0660 --uid UID --gid GID
                [--env NAME=VALUE]... -- COMMAND [ARG]...

Like systemd with calltrail-token.socket: this process (root) creates and
holds the listening unix socket (owner root, GROUP, MODE, as SocketGroup=
and SocketMode= say) and starts COMMAND as UID:GID with no supplementary
group, the socket as fd 3 and LISTEN_FDS=1, LISTEN_PID=<its pid>,
LISTEN_FDNAMES, in a process group of its own (its "control group").

  SIGHUP   restart, as `systemctl restart`: SIGTERM to the whole group,
           wait until every process is gone (20 s, then SIGKILL), start
           anew.  The socket stays open all along, so connections made
           meanwhile wait in its backlog.
  SIGTERM  stop the service and exit, removing the socket.

A service that exits on its own is started again after 1 s
(Restart=on-failure), at most 5 times.  Each start is logged on stderr.
"""
import argparse
import ctypes
import grp
import os
import signal
import socket
import stat
import sys
import time


def log(msg):
    sys.stderr.write("deb-launch: %s\n" % msg)
    sys.stderr.flush()


def listen(path, group, mode):
    if os.path.lexists(path):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
            sys.exit("deb-launch: %s: something still answers there" % path)
        except OSError:
            os.unlink(path)
        finally:
            probe.close()
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)            # never reachable before the chmod
    try:
        s.bind(path)
    finally:
        os.umask(old)
    os.chown(path, 0, grp.getgrnam(group).gr_gid)
    os.chmod(path, mode)
    s.listen(socket.SOMAXCONN)
    return s


SIGNALS = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT}


def start(sock, args):
    # A stop may follow at once (restarts queue up).  Until the child has
    # its default dispositions back it would run our Python handler and
    # lose the signal, so keep them blocked across the fork: pending, a
    # signal then stops the child before or after its exec, never not.
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    pid = os.fork()
    if pid:
        # Both sides set the group (the shell's way): killpg right after
        # the fork must find it.
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass                     # the child did it, or already exec'd
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        log("started %s as pid %d" % (args.command[0], pid))
        return pid
    try:
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        os.setpgid(0, 0)
        fd = sock.fileno()
        if fd != 3:
            os.dup2(fd, 3)           # dup2 clears close-on-exec
        else:
            os.set_inheritable(3, True)
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid()),
               "LISTEN_FDNAMES": os.path.basename(args.listen)}
        for kv in args.env:
            k, _, v = kv.partition("=")
            env[k] = v
        os.setgroups([])
        os.setgid(args.gid)
        os.setuid(args.uid)
        os.umask(0o077)
        os.execve(args.command[0], args.command, env)
    except BaseException as e:       # never return into the parent's loop
        sys.stderr.write("deb-launch: exec %s: %s\n" % (args.command[0], e))
        os._exit(127)


def reap():
    """Reap every child that ended; returns {pid: status}.  We are a
    subreaper, so the service's orphaned workers end up here too."""
    ended = {}
    while True:
        try:
            pid, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended[pid] = st


def stop(pid):
    """SIGTERM to the service's group; wait for every process in it."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 20
    status = None
    while True:
        ended = reap()
        if pid in ended:
            status = ended[pid]
        try:
            os.killpg(pid, 0)        # anyone left in the group?
        except ProcessLookupError:
            if status is not None:
                return status
        if time.monotonic() > deadline:
            log("pid %d did not stop in 20 s: SIGKILL" % pid)
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5
        time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--mode", required=True, type=lambda m: int(m, 8))
    ap.add_argument("--uid", required=True, type=int)
    ap.add_argument("--gid", required=True, type=int)
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()

    # Orphaned workers of the service become our children, as they would
    # stay in systemd's control group: we reap them and wait for them.
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    sock = listen(args.listen, args.group, args.mode)
    pending = []
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, f: pending.append(s))
    pid = start(sock, args)
    restarts = 0
    while True:
        if pending:
            sig = pending.pop(0)
            st = stop(pid)
            log("pid %d stopped (status %d)" % (pid, st))
            if sig != signal.SIGHUP:
                break
            pid = start(sock, args)
            continue
        ended = reap()
        if pid in ended:
            st = ended[pid]
            log("pid %d exited by itself (status %d)" % (pid, st))
            restarts += 1
            if restarts > 5:
                break
            time.sleep(1)
            pid = start(sock, args)
        time.sleep(0.02)
    sock.close()
    if stat.S_ISSOCK(os.lstat(args.listen).st_mode):
        os.unlink(args.listen)       # RemoveOnStop=yes


if __name__ == "__main__":
    main()
