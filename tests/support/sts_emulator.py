"""A loopback AWS STS for the credential tests: the query protocol's AssumeRole (its SigV4
signature re-computed with botocore against the key pairs the test gave) and
AssumeRoleWithWebIdentity (its token compared with the expected one), answering XML as STS
does, ErrorResponse for what it refuses, throttling on request.

    sts = StsEmulator(keys={"AKIA...": "secret"}, web_token="eyJ...")
    env["AWS_ENDPOINT_URL_STS"] = sts.url
    ...
    sts.calls      # [{"action", "role_arn", "session_name", "external_id", ...,
                   #   "signed_by", "region" (of AssumeRole's signature)}, ...]
    sts.issued     # [(akid, secret, token), ...] in the order they were issued
    sts.write_keys(path)   # the issued pairs in `ecrup serve --keys` format
    sts.reset(seed)        # forget calls and issued pairs; issue the pairs `seed` determines
    sts.stop()

Runs on 127.0.0.1 with a port the kernel picks, in a thread of the test's process. Found the
same way as checks.py (sys.path holds tests/support)."""
import datetime
import hashlib
import http.server
import re
import threading
import urllib.parse
import uuid

NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def _xml_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def verify_sigv4(method, path, headers, body, secret, token=None):
    """True when the request's Authorization header is the signature botocore computes for
    these headers and body with `secret`: botocore is the independent oracle."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = headers.get("Authorization", "")
    try:
        cred = auth.split("Credential=", 1)[1].split(",", 1)[0]
        akid, _date, region, service, _term = cred.split("/")
        signed = auth.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
        got = auth.split("Signature=", 1)[1].strip()
    except (IndexError, ValueError):
        return False
    req_headers = {}
    for name in signed:
        if name in ("x-amz-date", "x-amz-security-token", "host"):
            continue
        req_headers[name] = headers.get(name, "")
    req = AWSRequest(method=method, url="http://%s%s" % (headers.get("Host"), path), data=body,
                     headers=req_headers)
    req.context["timestamp"] = headers.get("X-Amz-Date", "")
    signer = SigV4Auth(Credentials(akid, secret, token), service, region)
    signer._modify_request_before_signing(req)
    want = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
    return want == got and service == "sts"


class StsEmulator:
    """keys: {akid: secret} accepted for AssumeRole (an issued pair is accepted too, so role
    chains work); web_token: the token AssumeRoleWithWebIdentity accepts (None: any);
    deny_roles: role ARNs refused with AccessDenied; throttle: how many calls to answer with
    a Throttling error first; lifetime: seconds the issued credentials are valid; validate:
    refuse, as STS does, a RoleSessionName, ExternalId or DurationSeconds outside STS's
    constraints (ValidationError)."""

    def __init__(self, keys=None, web_token=None, deny_roles=(), throttle=0, lifetime=3600,
                 validate=False):
        self.keys = dict(keys or {})
        self.tokens = {}  # akid -> session token of issued pairs
        self.web_token = web_token
        self.deny_roles = set(deny_roles)
        self.throttle = throttle
        self.lifetime = lifetime
        self.validate = validate
        self.calls = []
        self.issued = []
        self.pending = []  # pairs made by prepare(), handed out first
        self.seed = None  # set by reset(): pairs are derived from it instead of random
        self.lock = threading.Lock()
        emulator = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                status, xml = emulator._handle(self.path, self.headers, body)
                data = xml.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def prepare(self, n):
        """Make `n` pairs now, to be issued by the next calls: a test can write them with
        write_keys() for an `ecrup serve --keys` started before the client asks."""
        with self.lock:
            for _ in range(n):
                self.pending.append(self._new_pair())

    def reset(self, seed):
        """Empty `calls` and `issued` (in place) and number pairs from 1 again, each derived
        from `seed` and its number: two clients that make the same calls after the same
        reset() are issued the same pairs, so a differential test can compare what each
        resolved. Keys the test gave, and pairs issued before, stay accepted."""
        with self.lock:
            del self.calls[:]
            del self.issued[:]
            self.pending = []
            self.made = 0
            self.seed = str(seed)

    def write_keys(self, path):
        """Every issued and prepared pair, one per line: ACCESS_KEY_ID SECRET SESSION_TOKEN."""
        with open(path, "w") as f:
            for akid, secret, token in self.issued + self.pending:
                f.write("%s %s %s\n" % (akid, secret, token))

    @staticmethod
    def _error(status, code, message, kind="Sender"):
        return status, ("<ErrorResponse xmlns=\"%s\"><Error><Type>%s</Type><Code>%s</Code>"
                        "<Message>%s</Message></Error><RequestId>%s</RequestId>"
                        "</ErrorResponse>" % (NS, kind, code, _xml_escape(message),
                                              uuid.uuid4()))

    def _new_pair(self):
        self.made = getattr(self, "made", 0) + 1
        n = self.made
        if self.seed is not None:
            h = hashlib.sha256(("%s/%d" % (self.seed, n)).encode()).hexdigest()
            return ("ASIAEM%s%04d" % (h[:10].upper(), n), h[10:50],
                    "FwoGZXIvYXdzEMU/emulated+%s=" % hashlib.sha256(h.encode()).hexdigest()
                    + "x" * 300)
        akid = "ASIAEMULATED%08d" % n
        secret = hashlib.sha256(("secret%d%s" % (n, uuid.uuid4())).encode()).hexdigest()[:40]
        token = "FwoGZXIvYXdzEMU/emulated+token%d=" % n + "x" * 300
        return akid, secret, token

    def _issue(self, action, role_arn, session_name):
        akid, secret, token = self.pending.pop(0) if self.pending else self._new_pair()
        self.issued.append((akid, secret, token))
        self.keys[akid] = secret
        self.tokens[akid] = token
        exp = (datetime.datetime.now(datetime.timezone.utc) +
               datetime.timedelta(seconds=self.lifetime)).strftime("%Y-%m-%dT%H:%M:%SZ")
        role_id = "AROAEMULATED:" + session_name
        extra = ""
        if action == "AssumeRoleWithWebIdentity":
            extra = ("<SubjectFromWebIdentityToken>system:serviceaccount:ci:pusher"
                     "</SubjectFromWebIdentityToken><Audience>sts.amazonaws.com</Audience>"
                     "<Provider>oidc.emulated</Provider>")
        return 200, ("<%sResponse xmlns=\"%s\">\n  <%sResult>\n    %s<AssumedRoleUser>"
                     "<AssumedRoleId>%s</AssumedRoleId><Arn>%s/%s</Arn></AssumedRoleUser>\n"
                     "    <Credentials>\n      <AccessKeyId>%s</AccessKeyId>\n"
                     "      <SecretAccessKey>%s</SecretAccessKey>\n"
                     "      <SessionToken>%s</SessionToken>\n"
                     "      <Expiration>%s</Expiration>\n    </Credentials>\n"
                     "  </%sResult>\n  <ResponseMetadata><RequestId>%s</RequestId>"
                     "</ResponseMetadata>\n</%sResponse>\n"
                     % (action, NS, action, extra, role_id, _xml_escape(role_arn),
                        _xml_escape(session_name), akid, secret, _xml_escape(token), exp,
                        action, uuid.uuid4(), action))

    @staticmethod
    def _invalid(form):
        """What STS's ValidationError would say of the request's values, or None."""
        name, ext, dur = (form.get("RoleSessionName"), form.get("ExternalId"),
                          form.get("DurationSeconds"))
        if not re.fullmatch(r"[\w+=,.@-]{2,64}", name or "", re.ASCII):
            return "RoleSessionName must be 2 to 64 of [\\w+=,.@-]"
        if ext is not None and not re.fullmatch(r"[\w+=,.@:/-]{2,1224}", ext, re.ASCII):
            return "ExternalId must be 2 to 1224 of [\\w+=,.@:/-]"
        if dur is not None and not (dur.isdigit() and 900 <= int(dur) <= 43200):
            return "DurationSeconds must be between 900 and 43200"
        return None

    def _handle(self, path, headers, body):
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                           keep_blank_values=True))
        action = form.get("Action", "")
        with self.lock:
            call = {"action": action, "role_arn": form.get("RoleArn"),
                    "session_name": form.get("RoleSessionName"),
                    "external_id": form.get("ExternalId"),
                    "duration": form.get("DurationSeconds"),
                    "serial": form.get("SerialNumber"), "code": form.get("TokenCode"),
                    "content_type": headers.get("Content-Type"), "signed_by": None,
                    "region": None,
                    "version": form.get("Version")}
            self.calls.append(call)
            if self.throttle > 0:
                self.throttle -= 1
                return self._error(400, "Throttling", "Rate exceeded")
            if path != "/" or form.get("Version") != "2011-06-15":
                return self._error(400, "InvalidAction", "not a query-protocol STS call")
            if not call["role_arn"] or not call["session_name"]:
                return self._error(400, "ValidationError", "RoleArn and RoleSessionName needed")
            if self.validate and self._invalid(form):
                return self._error(400, "ValidationError", self._invalid(form))
            if action == "AssumeRoleWithWebIdentity":
                if "Authorization" in headers:
                    return self._error(400, "InvalidRequest", "AssumeRoleWithWebIdentity is "
                                       "unsigned")
                token = form.get("WebIdentityToken", "")
                if self.web_token is not None and token != self.web_token:
                    return self._error(400, "InvalidIdentityToken",
                                       "the web identity token is not valid")
            elif action == "AssumeRole":
                auth = headers.get("Authorization", "")
                akid = auth.split("Credential=", 1)[-1].split("/", 1)[0]
                secret = self.keys.get(akid)
                if not secret or not verify_sigv4("POST", path, headers, body, secret,
                                                  headers.get("X-Amz-Security-Token")):
                    return self._error(403, "SignatureDoesNotMatch",
                                       "The request signature we calculated does not match")
                if akid in self.tokens and headers.get("X-Amz-Security-Token") != \
                        self.tokens[akid]:
                    return self._error(403, "InvalidClientTokenId", "bad session token")
                call["signed_by"] = akid
                call["region"] = auth.split("Credential=", 1)[-1].split("/")[2]
            else:
                return self._error(400, "InvalidAction", "unknown action")
            if call["role_arn"] in self.deny_roles:
                return self._error(403, "AccessDenied", "User is not authorized to perform: "
                                   "sts:%s on resource: %s" % (action, call["role_arn"]))
            return self._issue(action, call["role_arn"], call["session_name"])
