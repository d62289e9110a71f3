"""RFC 3161 timestamps: ask a timestamp authority (TSA) to stamp a digest, and verify the token.

A token is a CMS SignedData whose content is a TSTInfo (the digest, the time,
a serial, a policy), signed by the TSA. `verify_timestamp` checks everything
that binds the time to the digest: the imprint, the CMS signature, the signer
certificate (EKU timeStamping, ESS signing-certificate binding) and, given CA
certificates, the chain up to one of them. Revocation is not checked.
"""

import base64
import hashlib
import http.client
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import algos, cms, parser, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

IMPRINT_ALGORITHM = "sha256"
MAX_CHAIN_LENGTH = 8

# Digests accepted inside the CMS signature; SHA-1 and MD5 are not.
HASHES = {"sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class TimestampError(Exception):
    """A timestamp could not be obtained or does not verify; the message is one line, safe to show."""


@dataclass
class TimestampInfo:
    gen_time: datetime
    serial_number: int
    policy: str
    tsa: str
    hash_algorithm: str
    trusted: bool


class _TimeStampResp(tsp.TimeStampResp):
    # asn1crypto declares timeStampToken mandatory, but RFC 3161 makes it OPTIONAL
    # and real rejections leave it out; without this they fail to parse.
    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass
class _Token:
    tst_info: tsp.TSTInfo
    tst_der: bytes
    signer_info: cms.SignerInfo
    certificates: list[asn1_x509.Certificate]


# Requesting


def request_timestamp(
    digest: bytes,
    url: str,
    *,
    timeout: float = 20.0,
    max_bytes: int = 1_000_000,
    ca_pem: bytes | None = None,
) -> bytes:
    """Get a timestamp token (DER ContentInfo) for a SHA-256 `digest` from the TSA at `url`.

    The token is always checked (nonce, imprint, signature, EKU), and also
    chained to `ca_pem` when given, so a token that would not verify later
    is never handed back.
    """
    if len(digest) != hashlib.sha256().digest_size:
        raise ValueError("digest must be a SHA-256 digest (32 bytes)")
    nonce = secrets.randbits(64)
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {"hash_algorithm": {"algorithm": IMPRINT_ALGORITHM}, "hashed_message": digest},
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()
    token = _token_from_response(_post(url, query, timeout, max_bytes))
    if _parse_token(token).tst_info["nonce"].native != nonce:
        raise TimestampError("TSA response nonce does not match the request (replayed or foreign response)")
    verify_timestamp(token, digest, ca_pem)
    return token


def _post(url: str, body: bytes, timeout: float, max_bytes: int) -> bytes:
    """POST a query and return the reply body; errors name the host, never the full URL (it may hold secrets)."""
    try:
        parts = urllib.parse.urlsplit(url)
        where = f"TSA {parts.hostname}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        raise TimestampError("TSA URL is not valid") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TimestampError("TSA URL must be an http(s) URL")
    url, headers = _without_credentials(parts)
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/timestamp-query", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise TimestampError(f"{where} reply is too large ({declared} bytes, limit {max_bytes})")
            reply = response.read(max_bytes + 1)
    except urllib.error.HTTPError as e:
        raise TimestampError(f"{where} answered HTTP {e.code} {_one_line(e.reason)}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise TimestampError(f"{where} timed out after {timeout:g} s") from None
        raise TimestampError(f"{where} is unreachable: {_one_line(e.reason)}") from None
    except TimeoutError:
        raise TimestampError(f"{where} timed out after {timeout:g} s") from None
    except (http.client.InvalidURL, ValueError):  # not its message: it quotes the URL
        raise TimestampError(f"{where}: URL is not valid") from None
    except (OSError, http.client.HTTPException) as e:
        raise TimestampError(f"{where} failed: {_one_line(e) or type(e).__name__}") from None
    if len(reply) > max_bytes:
        raise TimestampError(f"{where} reply is too large (over {max_bytes} bytes)")
    return reply


def _without_credentials(parts: urllib.parse.SplitResult) -> tuple[str, dict]:
    """The URL without user:password@ and the Basic authorization they stand for. urllib would take them as
    part of the host name and ask the resolver for it, password included."""
    if parts.username is None and parts.password is None:
        return parts.geturl(), {}
    netloc = parts.netloc.rpartition("@")[2]
    pair = f"{urllib.parse.unquote(parts.username or '')}:{urllib.parse.unquote(parts.password or '')}".encode()
    return parts._replace(netloc=netloc).geturl(), {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def _token_from_response(reply: bytes) -> bytes:
    try:
        response = _TimeStampResp.load(reply, strict=True)
        status = response["status"].native
        token = response["time_stamp_token"].dump()  # b"" when absent; parsed (and checked) by _parse_token
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise TimestampError(f"malformed TSA response: {_one_line(e)}") from None
    if status["status"] not in ("granted", "granted_with_mods"):
        reasons = ", ".join(sorted(map(str, status["fail_info"] or ()))) or "no reason given"
        text = _one_line(" ".join(status["status_string"] or ()))
        raise TimestampError(f"TSA refused the request: {status['status']} ({reasons}){': ' + text if text else ''}")
    if not token:
        raise TimestampError("TSA granted the request but sent no token")
    return token


# Verifying


def verify_timestamp(token: bytes, digest: bytes, ca_pem: bytes | None = None) -> TimestampInfo:
    """Check that `token` stamps the SHA-256 `digest`; with `ca_pem`, also that its TSA chains to one of those CAs."""
    parsed = _parse_token(token)
    _check_imprint(parsed.tst_info, digest)
    signer = _signer_certificate(parsed)
    cert = _load_certificate(signer)
    _check_eku(cert)
    _check_ess_binding(parsed.signer_info, signer.dump())
    _check_signature(parsed.signer_info, cert, parsed.tst_der)
    gen_time = parsed.tst_info["gen_time"].native.astimezone(UTC)
    _check_validity(cert, gen_time)
    if ca_pem is not None:
        others = [_load_certificate(c) for c in parsed.certificates if c is not signer]
        _check_chain(cert, others, _load_anchors(ca_pem), gen_time)
    return TimestampInfo(
        gen_time=gen_time,
        serial_number=parsed.tst_info["serial_number"].native,
        policy=parsed.tst_info["policy"].dotted,
        tsa=cert.subject.rfc4514_string(),
        hash_algorithm=parsed.tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native,
        trusted=ca_pem is not None,
    )


def _parse_token(token: bytes) -> _Token:
    """Parse every part we rely on up front, so malformed input fails here with one message."""
    try:
        content_info = cms.ContentInfo.load(token, strict=True)
        content_info.native  # noqa: B018 - asn1crypto parses lazily; force it so bad input fails here, not later
        if content_info["content_type"].native != "signed_data":
            raise TimestampError("timestamp token is not a CMS SignedData")
        signed_data = content_info["content"]
        encap = signed_data["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise TimestampError("timestamp token does not contain a TSTInfo")
        # The exact octets the TSA hashed; parse those, not asn1crypto's view of them.
        tst_der = bytes(encap["content"])
        tst_info = tsp.TSTInfo.load(tst_der, strict=True)
        tst_info.native  # noqa: B018 - as above
        if len(signed_data["signer_infos"]) != 1:
            raise TimestampError("timestamp token must have exactly one signer")
        signer_info = signed_data["signer_infos"][0]
        certificates = [c.chosen for c in signed_data["certificates"] or () if c.name == "certificate"]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:  # asn1crypto raises all of these
        raise TimestampError(f"malformed timestamp token: {_one_line(e)}") from None
    return _Token(tst_info, tst_der, signer_info, certificates)


def _check_imprint(tst_info: tsp.TSTInfo, digest: bytes) -> None:
    imprint = tst_info["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm != IMPRINT_ALGORITHM:
        raise TimestampError(f"timestamp is over a {algorithm} digest, expected {IMPRINT_ALGORITHM}")
    if imprint["hashed_message"].native != digest:
        raise TimestampError("timestamp is for a different digest")


def _signer_certificate(parsed: _Token) -> asn1_x509.Certificate:
    """The certificate named by the SignerIdentifier; certReq=True makes TSAs include it."""
    sid = parsed.signer_info["sid"]
    for cert in parsed.certificates:
        if _identifies(sid, cert):
            return cert
    raise TimestampError("timestamp token does not include the TSA's certificate")


def _identifies(sid: cms.SignerIdentifier, cert: asn1_x509.Certificate) -> bool:
    if sid.name == "subject_key_identifier":
        return cert.key_identifier == sid.chosen.native
    if cert.serial_number != sid.chosen["serial_number"].native:
        return False
    issuer = sid.chosen["issuer"]
    try:
        return cert.issuer.dump() == issuer.dump() or cert.issuer == issuer  # `==` normalises per RFC 5280...
    except ValueError:  # ...and raises on strings it cannot normalise
        return False


def _check_eku(cert: x509.Certificate) -> None:
    # RFC 3161 2.3: the TSA certificate's EKU must be critical and hold only id-kp-timeStamping
    # (OpenSSL's `ts -verify` is as strict).
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TimestampError("TSA certificate has no extendedKeyUsage (timeStamping required)") from None
    if list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING] or not eku.critical:
        raise TimestampError("TSA certificate's extendedKeyUsage is not a critical timeStamping-only extension")


def _check_ess_binding(signer_info: cms.SignerInfo, cert_der: bytes) -> None:
    """The signed ESS signing-certificate attribute pins the signer certificate by hash (RFC 3161/5816)."""
    v2 = _signed_attribute(signer_info, "signing_certificate_v2")
    v1 = _signed_attribute(signer_info, "signing_certificate")
    if v2 is not None:
        cert_id = v2["certs"][0]
        algorithm = cert_id["hash_algorithm"]["algorithm"].native
    elif v1 is not None:
        cert_id, algorithm = v1["certs"][0], "sha1"
    else:
        raise TimestampError("timestamp token has no signing-certificate attribute")
    if algorithm not in HASHES and algorithm != "sha1":
        raise TimestampError(f"unsupported signing-certificate hash {algorithm}")
    if hashlib.new(algorithm, cert_der).digest() != cert_id["cert_hash"].native:
        raise TimestampError("TSA certificate does not match the signed signing-certificate attribute")


def _check_signature(signer_info: cms.SignerInfo, cert: x509.Certificate, tst_der: bytes) -> None:
    algorithm = signer_info["digest_algorithm"]["algorithm"].native
    if algorithm not in HASHES:
        raise TimestampError(f"unsupported digest algorithm {algorithm} in timestamp signature")
    if _signed_attribute(signer_info, "content_type") != "tst_info":
        raise TimestampError("signed content-type attribute is not TSTInfo")
    if _signed_attribute(signer_info, "message_digest") != hashlib.new(algorithm, tst_der).digest():
        raise TimestampError("bad timestamp signature: TSTInfo does not match its signed digest")
    # RFC 5652 5.4: the signature covers the attributes DER-encoded with the universal
    # SET OF tag, not the [0] IMPLICIT tag they carry inside SignerInfo. Reuse the
    # received content octets as they are: re-encoding could reorder them.
    signed_bytes = parser.emit(0, 1, 17, signer_info["signed_attrs"].contents)
    signature = signer_info["signature"].native
    kind = _signature_kind(signer_info["signature_algorithm"])
    key = cert.public_key()
    try:
        if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_bytes, padding.PKCS1v15(), HASHES[algorithm]())
        elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_bytes, ec.ECDSA(HASHES[algorithm]()))
        else:
            raise TimestampError(f"unsupported timestamp signature algorithm {kind}")
    except (InvalidSignature, ValueError):
        raise TimestampError("bad timestamp signature") from None


def _signature_kind(algorithm: algos.SignedDigestAlgorithm) -> str:
    try:
        return algorithm.signature_algo  # "rsassa_pkcs1v15", "ecdsa", ...
    except ValueError:
        return algorithm["algorithm"].dotted


def _signed_attribute(signer_info: cms.SignerInfo, name: str):
    """The native value (or asn1crypto object for ESS attributes) of a single-valued signed attribute."""
    for attribute in signer_info["signed_attrs"] or ():
        if attribute["type"].native == name:
            value = attribute["values"][0]
            return value if name.startswith("signing_certificate") else value.native
    return None


def _check_chain(
    cert: x509.Certificate, others: list[x509.Certificate], anchors: list[x509.Certificate], at: datetime
) -> None:
    """Walk issuer links up to one of `anchors`; intermediates come from the token and must be CAs."""
    chain = [cert]
    for _ in range(MAX_CHAIN_LENGTH):
        if cert in anchors:
            return
        anchor = next((a for a in anchors if _issued_by(cert, a)), None)
        if anchor is not None:
            _check_validity(anchor, at)
            return
        issuer = next((c for c in others if c not in chain and _is_ca(c) and _issued_by(cert, c)), None)
        if issuer is None:
            break
        _check_validity(issuer, at)
        chain.append(issuer)
        cert = issuer
    raise TimestampError(f"TSA certificate ({chain[0].subject.rfc4514_string()}) does not chain to a trusted CA")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _check_validity(cert: x509.Certificate, at: datetime) -> None:
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise TimestampError(f"certificate {cert.subject.rfc4514_string()} was not valid at {at.isoformat()}")


def _load_certificate(cert: asn1_x509.Certificate) -> x509.Certificate:
    try:
        loaded = x509.load_der_x509_certificate(cert.dump())
        loaded.extensions, loaded.public_key()  # parsed lazily; make bad ones fail here
    except (ValueError, x509.InvalidVersion, x509.DuplicateExtension, UnsupportedAlgorithm) as e:
        raise TimestampError(f"bad certificate in timestamp token: {_one_line(e)}") from None
    return loaded


def _load_anchors(ca_pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(ca_pem)
    except ValueError:
        raise TimestampError("CA certificates for timestamp verification are not valid PEM") from None


def _one_line(value: object, limit: int = 200) -> str:
    """Collapse text (often from the remote side or a parser) to one short line."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
