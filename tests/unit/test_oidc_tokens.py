"""ID token and signed userinfo verification, with keys made here: each check tried and broken."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jupyter_hds.oidc.tokens import (
    Expected,
    TokenRejected,
    UnknownSigningKey,
    verify_id_token,
    verify_userinfo_jwt,
)

ISSUER = "https://login.example.org/realms/hds"
CLIENT = "jupyter-hds"
EXPECTED = Expected(ISSUER, CLIENT)
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(data: bytes) -> str:
    return jwt.utils.base64url_encode(data).decode()


def public_jwk(key, kid, alg):
    algorithm = jwt.get_algorithm_by_name(alg)
    return {**json.loads(algorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"}


JWKS = {"keys": [public_jwk(RSA_KEY, "rsa-1", "RS256"), public_jwk(EC_KEY, "ec-1", "ES256")]}


def claims(**changes):
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "sub": "s-1",
        "aud": CLIENT,
        "exp": now + 300,
        "iat": now,
        "nonce": "n-1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload, key=RSA_KEY, alg="RS256", kid="rsa-1"):
    headers = {"kid": kid} if kid else {}
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def test_a_good_token_gives_its_claims():
    assert verify_id_token(sign(claims()), JWKS, EXPECTED, nonce="n-1")["sub"] == "s-1"


def test_an_ec_signed_token_is_checked_against_the_ec_key():
    token = sign(claims(), key=EC_KEY, alg="ES256", kid="ec-1")
    assert verify_id_token(token, JWKS, EXPECTED, nonce="n-1")["sub"] == "s-1"


@pytest.mark.parametrize(
    ("case_id", "token", "nonce", "message"),
    [
        ("wrong issuer", lambda: sign(claims(iss="https://evil.example")), "n-1", "not issued by"),
        ("wrong audience", lambda: sign(claims(aud="another-app")), "n-1", "not issued for client"),
        ("expired", lambda: sign(claims(exp=int(time.time()) - 120)), "n-1", "expired"),
        (
            "issued in the future",
            lambda: sign(claims(iat=int(time.time()) + 600)),
            "n-1",
            "not yet",
        ),
        ("no exp", lambda: sign(claims(exp=None)), "n-1", "exp"),
        ("no sub", lambda: sign(claims(sub=None)), "n-1", "sub"),
        ("wrong nonce", lambda: sign(claims()), "n-2", "nonce"),
        ("no nonce", lambda: sign(claims(nonce=None)), "n-1", "nonce"),
        ("other key, same kid", lambda: sign(claims(), key=OTHER_KEY), "n-1", "bad signature"),
        (
            "several audiences, no azp",
            lambda: sign(claims(aud=[CLIENT, "another-app"])),
            "n-1",
            "authorized party",
        ),
        (
            "azp of another client",
            lambda: sign(claims(azp="another-app")),
            "n-1",
            "authorized party",
        ),
        ("alg none", lambda: jwt.encode(claims(), None, algorithm="none"), "n-1", "'none'"),
        (
            "HMAC with a guessable key",
            lambda: jwt.encode(claims(), "x" * 32, algorithm="HS256"),
            "n-1",
            "'HS256'",
        ),
        ("not a JWT", lambda: "not.a.jwt", "n-1", "not a signed JWT"),
    ],
)
def test_a_bad_token_is_rejected(case_id, token, nonce, message):
    with pytest.raises(TokenRejected, match=message):
        verify_id_token(token(), JWKS, EXPECTED, nonce=nonce)


def test_a_payload_changed_after_signing_is_rejected():
    header, _, signature = sign(claims()).split(".")
    forged = b64(json.dumps(claims(sub="admin")).encode())
    with pytest.raises(TokenRejected, match="bad signature"):
        verify_id_token(f"{header}.{forged}.{signature}", JWKS, EXPECTED, nonce="n-1")


def test_an_unknown_kid_asks_for_the_keys_again():
    with pytest.raises(UnknownSigningKey):
        verify_id_token(sign(claims(), key=OTHER_KEY, kid="rotated"), JWKS, EXPECTED, nonce="n-1")


def test_the_public_key_cannot_be_used_as_an_hmac_secret():
    # Algorithm confusion: an HS256 "signature" keyed with the provider's public key.
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims()).encode())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(TokenRejected, match="'HS256'"):
        verify_id_token(f"{signing_input}.{b64(mac)}", JWKS, EXPECTED, nonce="n-1")


def test_a_refreshed_token_must_keep_the_subject():
    token = sign(claims(sub="s-2", nonce=None))
    with pytest.raises(TokenRejected, match="subject"):
        verify_id_token(token, JWKS, EXPECTED, nonce=None, subject="s-1")
    assert verify_id_token(token, JWKS, EXPECTED, nonce=None, subject="s-2")["sub"] == "s-2"


def test_leeway_tolerates_a_small_clock_difference():
    token = sign(claims(exp=int(time.time()) - 30))
    assert verify_id_token(token, JWKS, EXPECTED, nonce="n-1")
    with pytest.raises(TokenRejected, match="expired"):
        verify_id_token(token, JWKS, Expected(ISSUER, CLIENT, leeway=0), nonce="n-1")


def test_signed_userinfo_is_verified_and_bound_to_the_id_token_subject():
    userinfo = {"sub": "s-1", "preferred_username": "810000000011", "iss": ISSUER, "aud": CLIENT}
    assert verify_userinfo_jwt(sign(userinfo), JWKS, EXPECTED, subject="s-1") == userinfo
    with pytest.raises(TokenRejected, match="subject"):
        verify_userinfo_jwt(sign(userinfo), JWKS, EXPECTED, subject="s-9")
    with pytest.raises(TokenRejected, match="bad signature"):
        verify_userinfo_jwt(sign(userinfo, key=OTHER_KEY), JWKS, EXPECTED, subject="s-1")
    with pytest.raises(TokenRejected, match="not issued for client"):
        verify_userinfo_jwt(sign({**userinfo, "aud": "other"}), JWKS, EXPECTED, subject="s-1")
    minimal = {"sub": "s-1", "given_name": "Camille"}  # iss and aud are optional there
    assert verify_userinfo_jwt(sign(minimal), JWKS, EXPECTED, subject="s-1") == minimal
