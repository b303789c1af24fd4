#!/usr/bin/env python3
"""Writes the hand-made seed inputs of each fuzz target into fuzz/corpus/<target>/seed-*.

The rest of each corpus was found by fuzzing from these and minimised (./usher fuzz keeps
what it finds; `libFuzzer -merge=1` keeps only what adds coverage). Rerun after changing
an input format; files are only (re)written, never deleted.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# --- protobuf wire format, enough for envelopes ---

def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field_bytes(number, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return varint(number << 3 | 2) + varint(len(data)) + data


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def envelope(method, payload=b"", request_id="seed", timeout_ms=0, key="", actor=None):
    out = field_bytes(1, method) + field_bytes(2, request_id)
    out += field_bytes(3, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    if timeout_ms:
        out += field_varint(4, timeout_ms)
    out += field_bytes(5, "seed")
    if actor:
        out += field_bytes(6, field_bytes(1, actor[0]) + field_bytes(2, actor[1]))
    if key:
        out += field_bytes(7, key)
    return out + field_bytes(8, payload)


UUID = "0b4c6a3e-5d1f-4e8a-9c2b-7f6e5d4c3b2a"


# rpc_request's first byte: how the request reaches the server (fuzz/rpc_request.c).
SIGNED_SYSTEM, SIGNED_PLAIN, SIGNED_PRINCIPAL, SIGNED_STRANGER = 0x01, 0x05, 0x09, 0x0d
OWN_NONCE, OWN_TIME = 0x10, 0x20
MACED, FOR_OTHER_SERVER = 0x40, 0x80


def rpc_request():
    def signed(name, request, how=SIGNED_SYSTEM):
        write("rpc_request", name, bytes([how]) + request)

    create_user = field_bytes(1, "ann@example.com") + field_bytes(2, "Ann") + \
        field_bytes(3, "+14155550123") + field_bytes(4, "a long password") + field_varint(5, 1)
    signed("create-user", envelope("usher.v1.IdentityService/CreateUser", create_user, key="k1"))
    scope = field_varint(1, 1)
    invite = field_bytes(1, UUID) + field_bytes(2, scope) + field_varint(3, 2) + \
        field_bytes(4, "texting") + field_bytes(6, "a@example.com") + \
        field_bytes(6, "b@example.com") + field_varint(7, 1)
    signed("create-invitations",
           envelope("usher.v1.InvitationService/CreateInvitations", invite, key="k2",
                    actor=(UUID, UUID)))
    signed("health", envelope("usher.v1.Health/Check", field_bytes(1, "")))
    check = envelope("usher.v1.TenancyService/Check",
                     field_bytes(1, UUID) + field_bytes(2, UUID) + field_bytes(4, "member.invite"),
                     timeout_ms=2000)
    signed("check", check)
    signed("unknown-method", envelope("usher.v1.Nope/Nothing"))
    signed("bad-payload", envelope("usher.v1.IdentityService/GetUser", b"\x0a\xff\xff"))
    # Callers: one without rights naming an actor, a service principal in its account
    # (ListMembers' account_id is field 1) and outside it, a key nobody trusts.
    signed("plain-actor", envelope("usher.v1.TenancyService/ListMembers", field_bytes(1, UUID),
                                   actor=(UUID, UUID)), SIGNED_PLAIN)
    signed("principal", envelope("usher.v1.TenancyService/ListMembers",
                                 field_bytes(1, UUID)), SIGNED_PRINCIPAL)
    signed("principal-elsewhere", envelope("usher.v1.TenancyService/ListMembers",
                                           field_bytes(1, UUID[::-1])), SIGNED_PRINCIPAL)
    signed("stranger", check, SIGNED_STRANGER)
    # The request's own nonce (16 bytes) and issue time (an offset from now: 10 min ago).
    signed("own-nonce-time", check + field_varint(9, (1 << 64) - 600000) +
           field_bytes(10, bytes(range(16))), SIGNED_SYSTEM | OWN_NONCE | OWN_TIME)
    # MAC'd instead of signed: for the server's key, by a principal, for another server.
    signed("maced", check, SIGNED_SYSTEM | MACED)
    signed("maced-principal", envelope("usher.v1.TenancyService/ListMembers",
                                       field_bytes(1, UUID)), SIGNED_PRINCIPAL | MACED)
    signed("maced-other-server", check, SIGNED_SYSTEM | MACED | FOR_OTHER_SERVER)
    # Frames as received: a request without a signature, and one with a wrong one.
    write("rpc_request", "frame-unsigned", b"\x00" + field_bytes(1, check))
    write("rpc_request", "frame-bad-signature",
          b"\x00" + field_bytes(1, check) + field_bytes(2, bytes(32)) + field_bytes(3, bytes(64)))
    write("rpc_request", "frame-bad-mac",
          b"\x00" + field_bytes(1, check) + field_bytes(2, bytes(32)) +
          field_bytes(125, field_bytes(1, bytes(32)) + field_bytes(2, bytes(32))))


def pbjson():
    all_types = ('{"anInt32":-5,"anSint32":7,"anSfixed32":-8,"anUint32":9,"aFixed32":10,'
                 '"anInt64":"-9007199254740993","anSint64":"12","anSfixed64":"-3",'
                 '"anUint64":"18446744073709551615","aFixed64":"4","aFloat":1.5,"aDouble":-2.25e10,'
                 '"aBool":true,"aString":"h\\u00e9llo","someBytes":"AAEC/w==","colour":"GREEN",'
                 '"inner":{"label":"x","numbers":[1,2,3]},"strings":["a","b"],'
                 '"inners":[{"label":"y"},{}],"colours":["RED",2],"bigNumbers":["1",2],'
                 '"choiceText":"picked"}')
    write("pbjson", "all-types", b"\x00" + all_types.encode())
    write("pbjson", "proto-names", b"\x00" + b'{"an_int32":1,"a_string":"s","choice_inner":{}}')
    for i, body in enumerate([
            '{"email":"ann@example.com","name":"Ann","password":"a long password"}',
            '{"accountId":"%s","scope":{"organization":true},"role":"ROLE_ADMIN",'
            '"emails":["a@example.com"],"dryRun":true}' % UUID,
            '{"token":"abc","newUser":{"name":"Ann","password":"pw"}}',
            '{"pageSize":50,"pageToken":""}']):
        for index in (1, 7, 20, 33):
            write("pbjson", "body-%d-%d" % (i, index), bytes([index]) + body.encode())


def email_csv():
    write("email_csv", "plain", "\x07email\na@example.com\nb@example.com\n")
    write("email_csv", "quoted-bom-crlf",
          b"\x01\xef\xbb\xbfName,Email\r\n\"Smith, Bob\",\"bob@example.com\"\r\n\r\nX,<x@y.com>\r\n")
    write("email_csv", "bad-quote", "\x03email\n\"unclosed@example.com\n")
    write("email_csv", "no-email-column", "\x05name,phone\nAnn,+1\n")


def email_address():
    for name, text in [("simple", "ann@example.com"), ("upper-space", "  Ann.Lee+tag@Example.COM \t"),
                       ("phone", "+14155550123"), ("uuid", UUID), ("name", "Zoë Ørsted"),
                       ("bad-utf8", b"a\xc0\x80b"), ("surrogate", b"\xed\xa0\x80"),
                       ("dots", "a..b@example.com"), ("ip", "a@127.0.0.1")]:
        write("email_address", name, text)


def upload_body():
    form = ("--XyZ\r\n"
            "Content-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n"
            "email\r\na@example.com\r\n"
            "--XyZ\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nadmin\r\n"
            "--XyZ\r\nContent-Disposition: form-data; name=products\r\n\r\na,b\r\n"
            "--XyZ--\r\n")
    write("upload_body", "form", "multipart/form-data; boundary=XyZ\n\x05" + form)
    write("upload_body", "form-quoted-boundary",
          "multipart/form-data; boundary=\"a b:c\"\n\x11--a b:c\r\n"
          "Content-Disposition: form-data; name=file\r\n\r\nemail\nx@y.com\r\n--a b:c--")
    write("upload_body", "csv", "text/csv\n\x02email\na@example.com\n")
    write("upload_body", "no-boundary", "multipart/form-data\n\x00--x--")


def mime():
    def message(frm, to, subject, text, html, date=1700000000):
        return b"\0".join(x.encode() for x in (frm, to, subject, text, html)) + b"\0" + \
            struct.pack(">Q", date)[3:]
    write("mime", "ascii", message("Usher <noreply@usher.test>", "ann@example.com", "Invitation",
                                   "Hello,\naccept at https://x/i/abc\n", "<p>Hello</p>"))
    write("mime", "utf8", message("noreply@usher.test", "b@example.com",
                                  "Invitation for Zoë's Café — " + "long " * 30,
                                  "Grüße\r\n" + "x" * 200 + " \n", "<p>Grüße =?</p>\n"))
    write("mime", "encoded-word-lookalike", message("A <a@b.co>", "c@d.co", "=?UTF-8?B?x?=",
                                                    "--=_usher_x\n", ""))


def template():
    files = sorted(os.listdir(os.path.join(os.path.dirname(ROOT), "..", "services",
                                           "notification", "templates")))
    values = "\0".join(["Acme <R&D>", "Ada \"A\"", "admin", "https://x/i/abc?a=1&b=2",
                        "8 January 2030", "ann@example.com", "Ann"])
    for i, f in enumerate(files):
        part = f.rsplit(".", 1)[1]
        text = {"subject": "You are invited to {{account_name}}",
                "txt": "{{inviter_name}} invited you: {{link}}\n",
                "html": "<p>{{inviter_name}} invited you to <b>{{account_name}}</b></p>\n"}[part]
        if f.startswith("invitation_accepted") or f.startswith("invitation_declined"):
            text = text.replace("inviter_name", "invitee_email").replace("{{link}}", "{{role}}")
        if f.startswith("email_change"):
            text = text.replace("inviter_name", "name").replace("account_name", "link")
        write("template", f, bytes([i]) + text.encode() + b"\0" + values.encode())
    write("template", "unknown-variable", b"\x00Hello {{first_name}}\0")
    write("template", "unclosed", b"\x01Hello {{link\0")


def http_route():
    for name, (method, path) in {
            "livez": ("GET", "/livez"), "rpc": ("POST", "/rpc/usher.v1.TenancyService/Check"),
            "invitation": ("GET", "/i/abc"), "accept": ("POST", "/i/abc/accept"),
            "import": ("POST", "/accounts/%s/invitations/import" % UUID),
            "wrong-method": ("GET", "/login"), "prefix-only": ("GET", "/i/"),
            "join-confirm": ("POST", "/j/abc/confirm"),
            "password-reset": ("POST", "/password-reset/abc")}.items():
        write("http_route", name, method + "\0" + path)


def form():
    write("form", "accept", "password\0name=Ann+Lee&phone=%2B14155550123&password=p%C3%A4ss+word")
    write("form", "cut-escape", "name\0name=abc%4")
    write("form", "nul", "name\0name=a%00b")


def config():
    write("config", "plain", "postgresql://usher_identity:s3cret-pw@/usher?host=/tmp/pg&port=5432"
          "\0tcp://127.0.0.1:7001\0008\0true")
    write("config", "keywords", "host=/tmp/pg dbname=usher user=u password=an0ther-pw\0"
          "tcp://[::1]:7001\0001\0no")
    write("config", "bad", "x\0ipc:///tmp/sock\0000\0maybe")
    write("config", "query-password",
          "postgresql:///usher?host=/tmp&password=topsecret\0tcp://127.0.0.1:1\0004\0true")


def permissions():
    conf = os.path.join(os.path.dirname(ROOT), "..", "services", "tenancy", "permissions.conf")
    with open(conf, "rb") as f:
        write("permissions", "default", f.read())
    write("permissions", "duplicate", "member.invite admin\nmember.invite owner\n")
    write("permissions", "bad-role", "member.invite king # no\n")


def page_token():
    import base64
    raw = bytes([1]) + struct.pack(">Q", 1700000000123456) + bytes.fromhex(UUID.replace("-", ""))
    write("page_token", "valid", base64.urlsafe_b64encode(raw).rstrip(b"=") + b"\0" + bytes(24))
    write("page_token", "short", "AQAAAAAAAAAA")


def invitation_cursor():
    # Tokens under fuzz/invitation_cursor.c's key and list: BLAKE2b keyed (libsodium's
    # crypto_generichash) over the position and the list's fields, each NUL-terminated.
    import base64
    import hashlib
    key = bytes([1, 2, 3]) + bytes(29)
    fields = [UUID, "1", "ann", ""]

    def token(version, us, uuid, list_fields=fields):
        pos = bytes([version]) + struct.pack(">Q", us) + bytes.fromhex(uuid.replace("-", ""))
        h = hashlib.blake2b(key=key, digest_size=16)
        h.update(pos)
        for f in list_fields:
            h.update(f.encode() + b"\0")
        return base64.urlsafe_b64encode(pos + h.digest()).rstrip(b"=")

    write("invitation_cursor", "valid", token(2, 1700000000123456, UUID) + b"\0" + bytes(44))
    write("invitation_cursor", "valid-zero", token(2, 0, "00000000-0000-0000-0000-000000000000"))
    write("invitation_cursor", "valid-max", token(2, 2**63 - 1, "ffffffff-ffff-ffff-ffff-ffffffffffff"))
    write("invitation_cursor", "old-version", token(1, 1700000000123456, UUID))
    write("invitation_cursor", "negative-time", token(2, 2**63, UUID))
    write("invitation_cursor", "other-list", token(2, 1700000000123456, UUID, [UUID, "0", "", ""]))
    good = token(2, 1700000000123456, UUID)
    write("invitation_cursor", "short", good[:-1])
    write("invitation_cursor", "padded", good + b"=")
    write("invitation_cursor", "standard-alphabet", good.replace(b"-", b"+").replace(b"_", b"/"))
    write("invitation_cursor", "high-byte", good[:-1] + b"\xff")


if __name__ == "__main__":
    for make in (rpc_request, pbjson, email_csv, email_address, upload_body, mime, template,
                 http_route, form, permissions, page_token, config, invitation_cursor):
        make()
