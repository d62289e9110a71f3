"""A local RFC 3161 timestamp authority for tests, built on `openssl ts`.

`LocalTSA` makes a throwaway CA and a TSA certificate issued by it (or,
with intermediate=True, by a sub-CA that the tokens carry), then answers
HTTP POSTs on 127.0.0.1 with `openssl ts -reply`. Paths:

- ``/``        a granted timestamp (the normal TSA)
- ``/reject``  a real rejection from openssl (that section only accepts SHA-512)
- ``/garbage`` 200 with bytes that are no TimeStampResp
- ``/slow``    sleeps before answering, for timeout tests
- anything else: 404
"""

import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

OPENSSL = "/usr/bin/openssl"
POLICY = "1.2.3.4.1"
SLOW_SECONDS = 2.0

KEY_OPTIONS = {
    "rsa": ["-newkey", "rsa:2048"],
    "ec": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
}

TSA_EXTENSIONS = """\
[sub_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[tsa_cert]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[no_eku]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

TSA_CONFIG = """\
[tsa]
default_tsa = tsa_granting

[tsa_granting]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/chain.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = {policy}
other_policies = 1.2.3.4.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256

[tsa_rejecting]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = {policy}
digests = sha512
ess_cert_id_alg = sha256
"""


def openssl(*args: str, cwd: Path | None = None) -> bytes:
    return subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=30).stdout


def make_ca(directory: Path, key_type: str = "ec", name: str = "Kesu Test CA") -> Path:
    """A self-signed CA in `directory` (ca.pem, ca.key); returns the PEM path."""
    openssl(
        "req", "-x509", *KEY_OPTIONS[key_type], "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-subj", f"/CN={name}", "-days", "2",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return directory / "ca.pem"


def unrelated_ca_pem(key_type: str = "ec", name: str = "Kesu Test CA") -> bytes:
    """The PEM of a fresh CA that has issued nothing we know; by default it even has our CA's name."""
    with tempfile.TemporaryDirectory(prefix="kesu-other-ca-") as tmp:
        return make_ca(Path(tmp), key_type, name).read_bytes()


class LocalTSA:
    """Context manager: `with LocalTSA("rsa") as tsa: tsa.url, tsa.ca_pem`."""

    def __init__(self, key_type: str = "rsa", intermediate: bool = False):
        self.key_type = key_type
        self.intermediate = intermediate
        self._tmp = tempfile.TemporaryDirectory(prefix="kesu-tsa-")
        self.dir = Path(self._tmp.name)
        self._lock = threading.Lock()  # openssl ts bumps the serial file in place
        self._server: ThreadingHTTPServer | None = None
        self.authorizations: list[str | None] = []  # the Authorization header of each request

    # Certificates

    def _make_pki(self) -> None:
        make_ca(self.dir, self.key_type)
        (self.dir / "ext.cnf").write_text(TSA_EXTENSIONS)
        if self.intermediate:
            self._issue("sub", "/CN=Kesu Test Sub-CA", "ca", "sub_ca")
            (self.dir / "chain.pem").write_bytes((self.dir / "sub.pem").read_bytes())
        else:
            (self.dir / "chain.pem").write_bytes(self.ca_pem)
        (self.dir / "tsa.cnf").write_text(TSA_CONFIG.format(dir=self.dir, policy=POLICY))
        (self.dir / "serial").write_text("01\n")
        self._issue("tsa", "/O=Kesu Tests/CN=Kesu Test TSA", "sub" if self.intermediate else "ca", "tsa_cert")

    def _issue(self, name: str, subject: str, issuer: str, extensions: str) -> None:
        """A new key `name`.key and its certificate `name`.pem, issued by `issuer`.pem/.key."""
        openssl(
            "req", "-new", *KEY_OPTIONS[self.key_type], "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", subject,
            cwd=self.dir,
        )  # fmt: skip
        (self.dir / f"{name}.pem").write_bytes(self._sign(name, issuer, extensions))

    def _sign(self, name: str, issuer: str, extensions: str, der: bool = False) -> bytes:
        return openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
            "-set_serial", f"0x{name.encode().hex()}", "-days", "1", "-extfile", "ext.cnf", "-extensions", extensions,
            "-outform", "DER" if der else "PEM",
            cwd=self.dir,
        )  # fmt: skip

    def issue_signer_cert(self, extensions: str = "tsa_cert") -> bytes:
        """DER of a new certificate for the TSA's key, same issuer and serial; `no_eku` leaves out timeStamping."""
        return self._sign("tsa", "sub" if self.intermediate else "ca", extensions, der=True)

    @property
    def ca_pem(self) -> bytes:
        return (self.dir / "ca.pem").read_bytes()

    @property
    def ca_path(self) -> Path:
        return self.dir / "ca.pem"

    # Serving

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def reply(self, query: bytes, section: str) -> bytes:
        with tempfile.TemporaryDirectory(dir=self.dir) as work, self._lock:
            query_file, reply_file = Path(work) / "query.tsq", Path(work) / "reply.tsr"
            query_file.write_bytes(query)
            openssl(
                "ts", "-reply", "-config", str(self.dir / "tsa.cnf"), "-section", section,
                "-queryfile", str(query_file), "-out", str(reply_file),
            )  # fmt: skip
            return reply_file.read_bytes()

    def __enter__(self) -> "LocalTSA":
        self._make_pki()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._tmp.cleanup()


def _handler_for(tsa: LocalTSA) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            tsa.authorizations.append(self.headers.get("Authorization"))
            try:
                self._answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            except subprocess.CalledProcessError as e:
                self._send(500, e.stderr)

        def _answer(self, query: bytes) -> None:
            if self.path == "/":
                self._send(200, tsa.reply(query, "tsa_granting"))
            elif self.path == "/reject":
                self._send(200, tsa.reply(query, "tsa_rejecting"))
            elif self.path == "/garbage":
                self._send(200, b"this is not a TimeStampResp")
            elif self.path == "/slow":
                time.sleep(SLOW_SECONDS)  # the client has given up by now; the reply goes nowhere
                self._send(503, b"too late")
            else:
                self._send(404, b"not found")

        def _send(self, status: int, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # a client that timed out and hung up
                pass

        def log_message(self, format, *args) -> None:
            pass

    return Handler
