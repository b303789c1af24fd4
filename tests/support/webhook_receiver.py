#!/usr/bin/env python3
"""A webhook receiver for tests: an HTTP server on loopback that records every request.

serve: listens on --port (default: any free one), writes its port to --port-file once it listens, appends one JSON line per request
to --log ({"path", "headers", "body"}), and answers with the next of --codes (then 200).
An answer of 307 or 302 redirects to --redirect. It runs until killed.

verify: checks every recorded request's Standard Webhooks signature against the secrets
given (HMAC-SHA256 of "id.timestamp.body" keyed with the base64 after "whsec_"), written
here with Python's own hmac, independently of the code under test. Prints the number of
requests whose signature verifies; exits 1 if any does not.
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading


def serve(args):
    codes = [int(c) for c in args.codes.split(",") if c]
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                with open(args.log, "a") as f:
                    f.write(json.dumps({"path": self.path,
                                        "headers": {k.lower(): v for k, v in self.headers.items()},
                                        "body": body.decode("utf-8")}) + "\n")
                    f.flush()
                code = codes.pop(0) if codes else 200
            self.send_response(code)
            if code in (301, 302, 307, 308):
                self.send_header("Location", args.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, fmt, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    server.serve_forever()


def verify(args):
    keys = [base64.b64decode(s[len("whsec_"):]) for s in args.secret]
    good = 0
    with open(args.log) as f:
        for line in f:
            r = json.loads(line)
            h = r["headers"]
            signed = "%s.%s.%s" % (h["webhook-id"], h["webhook-timestamp"], r["body"])
            expected = ["v1," + base64.b64encode(hmac.new(k, signed.encode(), hashlib.sha256)
                                                 .digest()).decode() for k in keys]
            given = h.get("webhook-signature", "").split(" ")
            if not any(hmac.compare_digest(e, g) for e in expected for g in given):
                print("signature does not verify: %s" % h.get("webhook-id"), file=sys.stderr)
                return 1
            good += 1
    print(good)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port-file", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--codes", default="")
    s.add_argument("--redirect", default="")
    s.add_argument("--port", type=int, default=0)
    v = sub.add_parser("verify")
    v.add_argument("--log", required=True)
    v.add_argument("--secret", action="append", required=True)
    args = p.parse_args()
    if args.cmd == "serve":
        serve(args)
        return 0
    return verify(args)


if __name__ == "__main__":
    sys.exit(main())
