"""Signing keys: the JWKS serves the current key and the previous ones, so a rotation logs
no one out."""

import httpx
import jwt
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sportslog_auth.app import create_app
from sportslog_auth.keys import generate_private_pem, load_signing_keys


def test_kid_is_the_rfc7638_thumbprint_and_stable(tmp_path):
    path = tmp_path / "k.pem"
    path.write_bytes(generate_private_pem())
    a, b = load_signing_keys(path, []), load_signing_keys(path, [])
    assert a.kid == b.kid
    assert len(a.kid) == 43  # base64url of a SHA-256
    assert a.jwks == {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": a.jwks["keys"][0]["x"],
                "kid": a.kid,
                "alg": "EdDSA",
                "use": "sig",
            }
        ]
    }


async def test_rotation_keeps_old_tokens_valid(settings, tmp_path, signup, new_email, client):
    old_tokens = await signup(new_email())  # signed by the key in `settings`
    old_kid = jwt.get_unverified_header(old_tokens["access_token"])["kid"]

    new_key = tmp_path / "new.pem"
    new_key.write_bytes(generate_private_pem())
    previous_public = tmp_path / "old.pub.pem"
    old_private = serialization.load_pem_private_key(
        settings.jwt_private_key_file.read_bytes(), None
    )
    assert isinstance(old_private, Ed25519PrivateKey)
    previous_public.write_bytes(
        old_private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    rotated = create_app(
        settings.model_copy(
            update={
                "jwt_private_key_file": new_key,
                "jwt_previous_public_key_files": str(previous_public),
            }
        )
    )
    async with LifespanManager(rotated, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=rotated)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as c:
            kids = [k["kid"] for k in (await c.get("/.well-known/jwks.json")).json()["keys"]]
            assert len(kids) == 2
            assert kids[1] == old_kid
            # A token from before the rotation still works...
            headers = {"Authorization": f"Bearer {old_tokens['access_token']}"}
            assert (await c.get("/me", headers=headers)).status_code == 200
            # ...and new tokens are signed with the new key.
            refreshed = await c.post(
                "/auth/refresh", json={"refresh_token": old_tokens["refresh_token"]}
            )
            assert refreshed.status_code == 200
            assert jwt.get_unverified_header(refreshed.json()["access_token"])["kid"] == kids[0]


def test_a_non_ed25519_key_is_refused(tmp_path):
    import pytest
    from cryptography.hazmat.primitives.asymmetric import ec

    from sportslog_auth.keys import SigningKeyError

    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(SigningKeyError, match="not an Ed25519 key"):
        load_signing_keys(path, [])
