#!/usr/bin/env python3
"""The calltrail hand-off of a LiveKit voice agent, standard library only.

This is the logic docs/agent.md describes, written as plain functions so
it runs (and is tested, t/agent-example.sh) without livekit-agents
installed.  In a real worker the LiveKit objects feed these functions:

    async def entrypoint(ctx: agents.JobContext):
        await ctx.connect()
        participant = await ctx.wait_for_participant()
        call = Call(ctx.room.name, participant.metadata, ctx.job.metadata)
        if call.must_ask_for_email():
            ...                      # the agent asks; then call.email = answer
        async def hand_off():
            await asyncio.to_thread(call.finish_and_spool)
        ctx.add_shutdown_callback(hand_off)

Run it by hand:

    python3 docs/agent_example.py --room voice_1761761045_abcdefghijkl \\
        --participant-metadata '{"user_email":"jane@acme.com"}' --spool /tmp/s

Environment: CALLTRAIL_SPOOL (the calltrail-spool program, default from
PATH), CALLTRAIL_FALLBACK_DIR (where a record the spool refused is kept).
"""

import argparse
import datetime
import json
import logging
import os
import subprocess
import sys
import time

log = logging.getLogger("calltrail-handoff")

SPOOL_PROGRAM = os.environ.get("CALLTRAIL_SPOOL", "calltrail-spool")
FALLBACK_DIR = os.environ.get("CALLTRAIL_FALLBACK_DIR",
                              "/var/lib/voice-agent/calltrail-unspooled")

# calltrail-spool exit codes (sysexits, see calltrail-spool(1)).
EX_DATAERR = 65   # the record breaks a rule: the message names the field
EX_IOERR = 74     # the spool cannot be written (disk full, permissions)
EX_CONFIG = 78    # calltrail.conf is broken


def email_from_metadata(metadata):
    """The user_email held in a metadata string, or "".

    calltrail-token puts {"user_email": E, "session_start": T} into the
    participant's metadata and into the dispatch (job) metadata.  Anything
    else - empty, not JSON, not an object, not a string - means "no
    email": the call goes on and the agent asks.
    """
    if not metadata:
        return ""
    try:
        value = json.loads(metadata)
    except (TypeError, ValueError):
        return ""
    if not isinstance(value, dict):
        return ""
    email = value.get("user_email")
    return email.strip() if isinstance(email, str) else ""


def rfc3339(moment):
    """UTC, microseconds, 'Z': the form calltrail reads back unchanged."""
    moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Call:
    """One session, from the participant joining to the shutdown callback."""

    def __init__(self, room_name, participant_metadata="", job_metadata="",
                 start=None):
        self.session_id = room_name
        # The participant's metadata first (it is what the token carried),
        # then the dispatch metadata the agent had at job start.
        self.email = (email_from_metadata(participant_metadata)
                      or email_from_metadata(job_metadata))
        self.start = start or datetime.datetime.now(datetime.timezone.utc)
        self.tier = None
        self.user_metadata = None
        self.metrics_summary = None
        self.tool_calls = None

    def must_ask_for_email(self):
        """Ask the visitor only when the form gave nothing."""
        return self.email == ""

    def record(self, end=None):
        """The session record (SPEC section 4) as the bytes to hand over.

        Optional fields are left out rather than set to null: calltrail
        refuses a field of the wrong type, and null is one.
        """
        end = end or datetime.datetime.now(datetime.timezone.utc)
        rec = {
            "session_id": self.session_id,
            "user_email": self.email,
            "start_time": rfc3339(self.start),
            "end_time": rfc3339(end),
            "duration_seconds": round(max(0.0, (end - self.start).total_seconds()), 3),
        }
        if self.user_metadata is not None:
            rec["user_metadata"] = self.user_metadata
        signals = {}
        if self.tier is not None:
            signals["qualification_tier"] = self.tier
        rec["discovered_signals"] = signals
        if self.metrics_summary is not None:
            rec["metrics_summary"] = self.metrics_summary
        if self.tool_calls is not None:
            rec["tool_calls"] = self.tool_calls
        return json.dumps(rec, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")

    def finish_and_spool(self, spool_dir=None, end=None):
        """Build the record and hand it over; returns the spooled path, or
        None when it was kept in the fallback directory instead."""
        return hand_off(self.record(end), self.session_id, spool_dir)


def keep_locally(data, session_id):
    """Last resort: the spool refused the record, so keep its bytes where an
    operator finds them (and can `calltrail-spool put FILE` them later)."""
    os.makedirs(FALLBACK_DIR, mode=0o700, exist_ok=True)
    name = "%s.%d.%d.json" % (session_id or "unknown", time.time_ns(), os.getpid())
    path = os.path.join(FALLBACK_DIR, name.replace("/", "_"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return path


def hand_off(data, session_id, spool_dir=None):
    """`calltrail-spool put -` with the record on stdin.

    Exit 0: stored, the path is on stdout.  Anything else is logged with
    calltrail-spool's own message (it names the field, never the email)
    and the record is written to FALLBACK_DIR, so it is never lost
    silently.  If even that fails the exception propagates: loud, not lost.
    """
    cmd = [SPOOL_PROGRAM, "put"]
    if spool_dir:
        cmd += ["-d", spool_dir]
    cmd.append("-")
    try:
        done = subprocess.run(cmd, input=data, capture_output=True, timeout=30)
        if done.returncode == 0:
            path = done.stdout.decode("utf-8", "replace").strip()
            log.info("session %s spooled as %s", session_id, path)
            return path
        why = done.stderr.decode("utf-8", "replace").strip()
        log.error("calltrail-spool put failed (exit %d) for session %s: %s",
                  done.returncode, session_id, why)
    except (OSError, subprocess.TimeoutExpired) as e:
        log.error("cannot run %s for session %s: %s", SPOOL_PROGRAM,
                  session_id, e)
    path = keep_locally(data, session_id)
    log.error("session %s kept in %s for a later `calltrail-spool put`",
              session_id, path)
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--room", required=True, help="the room name (session_id)")
    p.add_argument("--participant-metadata", default="")
    p.add_argument("--job-metadata", default="")
    p.add_argument("--answer", default="",
                   help="what the visitor says when asked for the email")
    p.add_argument("--tier", default=None)
    p.add_argument("--start", help="RFC 3339 start time (default: now)")
    p.add_argument("--end", help="RFC 3339 end time (default: now)")
    p.add_argument("--spool", help="spool directory (calltrail-spool -d)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    parse = datetime.datetime.fromisoformat
    start = parse(a.start.replace("Z", "+00:00")) if a.start else None
    end = parse(a.end.replace("Z", "+00:00")) if a.end else None
    call = Call(a.room, a.participant_metadata, a.job_metadata, start)
    if call.must_ask_for_email():
        log.info("no email in the metadata: asking the visitor")
        call.email = a.answer.strip()
    call.tier = a.tier
    path = call.finish_and_spool(a.spool, end)
    if path is None:
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
