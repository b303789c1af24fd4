#!/usr/bin/python3
"""An SMTP server on loopback for tests, scripted from the command line.

Every message it accepts is written to --dir as one file, NNNNNN.eml: the envelope
("MAIL FROM:<a>" and one "RCPT TO:<b>" line per recipient), a blank line, then the data
exactly as received. A file appears (by rename) only once the message is accepted, and
before the 250 is sent, so "in the directory" means "the server said 250".

  --codes 451,451      answers to the end of DATA for the first transactions, in order;
                       afterwards every transaction gets 250
  --reject ADDR        answer 550 to RCPT TO:<ADDR> (repeatable)
  --kill-pid PID --kill-after N
                       SIGKILL PID once the Nth accepted message is stored, just
                       before its 250 (once): a client dying before it records it
  --auth USER:PASS     require AUTH PLAIN/LOGIN with these credentials
  --tls-cert/--tls-key offer STARTTLS with this certificate
  --port N             0 (the default) picks a free port; --port-file gets the port

Debian's python3-aiosmtpd; run with /usr/bin/python3.
"""
import argparse
import asyncio
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult


def parse_args():
    p = argparse.ArgumentParser(description="scriptable SMTP sink for tests")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--dir", required=True)
    p.add_argument("--codes", default="")
    p.add_argument("--reject", action="append", default=[])
    p.add_argument("--kill-pid", type=int, default=0)
    p.add_argument("--kill-after", type=int, default=0)
    p.add_argument("--auth")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    return p.parse_args()


def reply_for(code, seq):
    if code < 300:
        return "%d 2.0.0 queued as %06d" % (code, seq)
    if code < 500:
        return "%d 4.7.1 try again later" % code
    return "%d 5.7.1 message refused" % code


class Sink:
    def __init__(self, args):
        self.dir = args.dir
        self.codes = [int(c) for c in args.codes.split(",") if c.strip()]
        self.reject = {a.lower() for a in args.reject}
        self.kill_pid = args.kill_pid
        self.kill_after = args.kill_after
        self.accepted = 0
        existing = [f for f in os.listdir(self.dir) if f.endswith(".eml")]
        self.seq = len(existing)  # a restarted sink keeps numbering

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        code = self.codes.pop(0) if self.codes else 250
        if code >= 300:
            return reply_for(code, 0)
        self.seq += 1
        self.record(envelope, self.seq)
        self.accepted += 1
        if self.kill_pid and self.accepted == self.kill_after:
            # The message is stored and its 250 about to be written: the client dies
            # before it can record the delivery. Killed now, not once the 250 is out: a
            # client quick enough to read the 250 and record it before a scheduled kill
            # landed made the crash test see no duplicate on a busy machine.
            os.kill(self.kill_pid, signal.SIGKILL)
            self.kill_pid = 0
        return reply_for(code, self.seq)

    def record(self, envelope, seq):
        head = "MAIL FROM:<%s>\r\n" % envelope.mail_from
        head += "".join("RCPT TO:<%s>\r\n" % r for r in envelope.rcpt_tos)
        head += "\r\n"
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        final = os.path.join(self.dir, "%06d.eml" % seq)
        tmp = os.path.join(self.dir, ".%06d.tmp" % seq)
        with open(tmp, "wb") as f:
            f.write(head.encode("ascii", "replace") + data)
        os.rename(tmp, final)


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        # handled=False: aiosmtpd itself answers (235 or 535).
        ok = (auth_data.login.decode() == user and auth_data.password.decode() == password)
        return AuthResult(success=ok, handled=False)
    return check


async def main():
    args = parse_args()
    os.makedirs(args.dir, exist_ok=True)
    handler = Sink(args)
    kwargs = {"decode_data": False, "enable_SMTPUTF8": True, "hostname": "sink.test"}
    if args.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        kwargs["tls_context"] = ctx
    if args.auth:
        user, _, password = args.auth.partition(":")
        kwargs["authenticator"] = authenticator(user, password)
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = bool(args.tls_cert)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, **kwargs), args.host, args.port,
                                      reuse_address=True)
    # Ready to stop cleanly before anyone learns it is up (the harness wants exit 0).
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
