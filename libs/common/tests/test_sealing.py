import pytest

from sportslog_common.sealing import Sealer, SealError, generate_key


def test_round_trip_and_nonce_uniqueness():
    sealer = Sealer(generate_key())
    a, b = sealer.seal("token-123"), sealer.seal("token-123")
    assert a != b
    assert "token-123" not in a
    assert sealer.open(a) == sealer.open(b) == "token-123"


def test_other_key_or_tampering_is_refused():
    sealed = Sealer(generate_key()).seal("code 123456")
    with pytest.raises(SealError):
        Sealer(generate_key()).open(sealed)
    sealer = Sealer(generate_key())
    good = sealer.seal("x")
    tampered = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]
    with pytest.raises(SealError):
        sealer.open(tampered)
    with pytest.raises(SealError):
        sealer.open("plain")


def test_event_models_refuse_an_unsealed_secret():
    import uuid
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from sportslog_common.events import UserRegistered

    fields = {"user_id": uuid.uuid4(), "email": "a@example.com", "expires_at": datetime.now(UTC)}
    with pytest.raises(ValidationError):
        UserRegistered(**fields, verify_token="raw-token-that-was-never-sealed-0123456789")
    sealed = Sealer(generate_key()).seal("raw-token")
    assert UserRegistered(**fields, verify_token=sealed).verify_token == sealed
