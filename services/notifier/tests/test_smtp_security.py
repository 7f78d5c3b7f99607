"""SMTP with STARTTLS, with implicit TLS and with AUTH, against a real TLS server whose
self-signed certificate the notifier is told to trust (SMTP_CA_FILE)."""

import datetime as dt
import ipaddress
import ssl
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from sportslog_notifier.rendering import Renderer
from sportslog_notifier.senders.email import SmtpEmailSender
from sportslog_testing import SmtpFake, free_port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    return cert_file, server_context


async def send_through(settings, smtp: SmtpFake, **overrides) -> str:
    to = f"tls-{uuid.uuid4().hex[:8]}@example.com"
    sender = SmtpEmailSender(settings.model_copy(update={"smtp_port": smtp.port, **overrides}))
    await sender.send(to, Renderer("sports-log").email("goodbye"), key=str(uuid.uuid4()))
    return to


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_tls_modes_with_auth(settings, certificate, mode):
    cert_file, server_context = certificate
    smtp = SmtpFake(
        free_port(), tls=mode, ssl_context=server_context, credentials=("mailer", "s3cret")
    )
    smtp.start()
    try:
        to = await send_through(
            settings,
            smtp,
            smtp_tls=mode,
            smtp_ca_file=str(cert_file),
            smtp_user="mailer",
            smtp_pass=SecretStr("s3cret"),
        )
        mail = await smtp.wait_for(to)
        assert mail.subject.startswith("Your sports-log account")
        assert smtp.logins == ["mailer"]
    finally:
        smtp.stop()


async def test_a_certificate_we_do_not_trust_is_refused(settings, certificate):
    _, server_context = certificate
    smtp = SmtpFake(free_port(), tls="tls", ssl_context=server_context)
    smtp.start()
    try:
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            await send_through(settings, smtp, smtp_tls="tls")
        assert smtp.messages == []
    finally:
        smtp.stop()


async def test_a_server_that_requires_starttls_gets_no_mail_in_the_clear(settings, certificate):
    _, server_context = certificate
    smtp = SmtpFake(free_port(), tls="starttls", ssl_context=server_context)
    smtp.start()
    try:
        with pytest.raises(Exception):
            await send_through(settings, smtp, smtp_tls="none")
        assert smtp.messages == []
    finally:
        smtp.stop()
