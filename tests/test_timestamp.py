"""RFC 3161 timestamps against a local `openssl ts` authority (tests/tsa.py)."""

import hashlib
import socket
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from tsa import OPENSSL, POLICY, LocalTSA, unrelated_ca_pem

from kesu.evidence import timestamp
from kesu.evidence.timestamp import TimestampError, request_timestamp, verify_timestamp

DIGEST = hashlib.sha256(b"manifest").digest()


@pytest.fixture(scope="module")
def tsas():
    with LocalTSA("rsa") as rsa_tsa, LocalTSA("ec") as ec_tsa, LocalTSA("ec", intermediate=True) as sub_tsa:
        yield {"rsa": rsa_tsa, "ec": ec_tsa, "ec-sub-ca": sub_tsa}


@pytest.fixture(params=["rsa", "ec", "ec-sub-ca"])
def tsa(request, tsas) -> LocalTSA:
    return tsas[request.param]


@pytest.fixture
def ec_tsa(tsas) -> LocalTSA:
    return tsas["ec"]


@pytest.fixture
def token(tsa) -> bytes:
    return request_timestamp(DIGEST, tsa.url, ca_pem=tsa.ca_pem)


# Helpers that take a token apart


def _signer_info(token: bytes) -> cms.SignerInfo:
    return cms.ContentInfo.load(token)["content"]["signer_infos"][0]


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


def _flip_gen_time(token: bytes) -> bytes:
    """Change the last digit of the seconds in genTime: still a valid time, but not the signed one."""
    tst_der = bytes(cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"])
    gen_time_der = tsp.TSTInfo.load(tst_der)["gen_time"].dump()  # 18 0f YYYYMMDDHHMMSSZ
    offset = token.index(tst_der) + tst_der.index(gen_time_der) + 2 + 13
    return _flip(token, offset)


def _flip_signature(token: bytes) -> bytes:
    signature = _signer_info(token)["signature"].native
    return _flip(token, token.index(signature) + len(signature) - 1)  # the last byte is value, even in ECDSA's DER


def _with_certificates(token: bytes, change) -> bytes:
    """Rebuild the token with its certificate list passed through `change`; nothing signed is touched."""
    signed_data = cms.ContentInfo.load(token)["content"]
    signed_data["certificates"] = change([c.chosen for c in signed_data["certificates"]])
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def _with_signer_cert(token: bytes, cert_der: bytes) -> bytes:
    """Swap the TSA certificate for `cert_der` (same issuer and serial, so the SignerIdentifier still fits)."""
    new = asn1_x509.Certificate.load(cert_der)
    return _with_certificates(token, lambda certs: [new if c.issuer_serial == new.issuer_serial else c for c in certs])


def _openssl_verify(token: bytes, digest: bytes, ca_path, tmp_path) -> subprocess.CompletedProcess:
    (tmp_path / "token.der").write_bytes(token)
    command = [OPENSSL, "ts", "-verify", "-digest", digest.hex(), "-in", str(tmp_path / "token.der"), "-token_in"]
    return subprocess.run([*command, "-CAfile", str(ca_path)], capture_output=True, text=True, timeout=30)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Round trip and the real tool


def test_round_trip(tsa, token):
    info = verify_timestamp(token, DIGEST, tsa.ca_pem)

    assert info.trusted is True
    assert info.gen_time.tzinfo is not None
    assert abs(datetime.now(UTC) - info.gen_time) < timedelta(minutes=1)
    assert info.serial_number > 0
    assert info.policy == POLICY
    assert info.hash_algorithm == "sha256"
    assert info.tsa == "CN=Kesu Test TSA,O=Kesu Tests"


def test_openssl_accepts_our_token(tsa, token, tmp_path):
    result = _openssl_verify(token, DIGEST, tsa.ca_path, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Verification: OK" in result.stdout

    # ...and the check has teeth: openssl refuses what we refuse.
    assert _openssl_verify(token, hashlib.sha256(b"other").digest(), tsa.ca_path, tmp_path).returncode != 0
    assert _openssl_verify(_flip_gen_time(token), DIGEST, tsa.ca_path, tmp_path).returncode != 0


# Tampering


def test_different_digest_fails(tsa, token):
    with pytest.raises(TimestampError, match="different digest"):
        verify_timestamp(token, hashlib.sha256(b"another manifest").digest(), tsa.ca_pem)


def test_changed_gen_time_fails(tsa, token):
    with pytest.raises(TimestampError, match="bad timestamp signature"):
        verify_timestamp(_flip_gen_time(token), DIGEST, tsa.ca_pem)


def test_changed_signature_fails(tsa, token):
    with pytest.raises(TimestampError, match="bad timestamp signature"):
        verify_timestamp(_flip_signature(token), DIGEST, tsa.ca_pem)


def test_other_ca_fails(tsa, token):
    impostor = unrelated_ca_pem(tsa.key_type)  # same name and key type as the real CA: only the signature differs
    with pytest.raises(TimestampError, match="does not chain to a trusted CA"):
        verify_timestamp(token, DIGEST, impostor)


def test_without_ca_untrusted_but_signature_checked(tsa, token):
    assert verify_timestamp(token, DIGEST).trusted is False
    with pytest.raises(TimestampError, match="bad timestamp signature"):
        verify_timestamp(_flip_signature(token), DIGEST)


def test_signer_without_timestamping_eku_fails(ec_tsa):
    token = request_timestamp(DIGEST, ec_tsa.url)
    forged = _with_signer_cert(token, ec_tsa.issue_signer_cert("no_eku"))
    with pytest.raises(TimestampError, match="extendedKeyUsage"):
        verify_timestamp(forged, DIGEST, ec_tsa.ca_pem)


def test_swapped_signer_certificate_fails(ec_tsa):
    token = request_timestamp(DIGEST, ec_tsa.url)
    reissued = ec_tsa.issue_signer_cert()  # same key, serial and EKU; a fresh ECDSA signature, so other bytes
    assert reissued not in token
    with pytest.raises(TimestampError, match="signing-certificate attribute"):
        verify_timestamp(_with_signer_cert(token, reissued), DIGEST, ec_tsa.ca_pem)


def test_intermediate_must_come_with_the_token(tsas):
    tsa = tsas["ec-sub-ca"]
    token = request_timestamp(DIGEST, tsa.url)
    assert verify_timestamp(token, DIGEST, tsa.ca_pem).trusted

    without_sub_ca = _with_certificates(token, lambda certs: [c for c in certs if not c.ca])
    assert verify_timestamp(without_sub_ca, DIGEST).trusted is False  # the signature alone still checks out
    with pytest.raises(TimestampError, match="does not chain to a trusted CA"):
        verify_timestamp(without_sub_ca, DIGEST, tsa.ca_pem)


def test_malformed_token_fails():
    with pytest.raises(TimestampError, match="malformed timestamp token"):
        verify_timestamp(b"\x30\x03\x02\x01\x01", DIGEST)


# Request errors


def _altering_post(monkeypatch, change):
    """Make the TSA see a changed query, as if it answered someone else's request."""
    real_post = timestamp._post

    def post(url, query, *args):
        altered = tsp.TimeStampReq.load(query).copy()
        change(altered)
        return real_post(url, altered.dump(force=True), *args)

    monkeypatch.setattr(timestamp, "_post", post)


def test_nonce_mismatch_fails(ec_tsa, monkeypatch):
    _altering_post(monkeypatch, lambda q: q.__setitem__("nonce", q["nonce"].native ^ 1))
    with pytest.raises(TimestampError, match="nonce does not match"):
        request_timestamp(DIGEST, ec_tsa.url)


def test_imprint_mismatch_fails(ec_tsa, monkeypatch):
    other = {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(b"x").digest()}
    _altering_post(monkeypatch, lambda q: q.__setitem__("message_imprint", other))
    with pytest.raises(TimestampError, match="different digest"):
        request_timestamp(DIGEST, ec_tsa.url)


def test_unreachable_tsa_without_leaking_credentials():
    with pytest.raises(TimestampError, match="unreachable") as caught:
        request_timestamp(DIGEST, f"http://kesu:s3cret@127.0.0.1:{_closed_port()}/tsa?token=s3cret")
    assert "s3cret" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


def test_rejection(ec_tsa):
    with pytest.raises(TimestampError, match=r"refused the request: rejection \(bad_alg\)"):
        request_timestamp(DIGEST, ec_tsa.url + "reject")


def test_garbage_reply(ec_tsa):
    with pytest.raises(TimestampError, match="malformed TSA response"):
        request_timestamp(DIGEST, ec_tsa.url + "garbage")


def test_timeout(ec_tsa):
    with pytest.raises(TimestampError, match="timed out after 0.2 s"):
        request_timestamp(DIGEST, ec_tsa.url + "slow", timeout=0.2)


def test_http_error(ec_tsa):
    with pytest.raises(TimestampError, match="HTTP 404"):
        request_timestamp(DIGEST, ec_tsa.url + "missing")


def test_reply_too_large(ec_tsa):
    with pytest.raises(TimestampError, match="too large"):
        request_timestamp(DIGEST, ec_tsa.url, max_bytes=100)


def test_only_http_urls():
    with pytest.raises(TimestampError, match="http"):
        request_timestamp(DIGEST, "file:///etc/passwd")
