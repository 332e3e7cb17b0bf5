"""Certificates made at test time with openssl (never committed): a CA, a server certificate
for localhost/127.0.0.1, client certificates (one revoked on a CRL, one from another CA), an
encrypted copy of the server key and an expired certificate."""
import subprocess
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "s3cret-pass"


def _ssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(d: Path, name: str):
    _ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "3", "-subj", f"/CN={name}",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _leaf(d: Path, name: str, ca: str, ext: str, days="3", start=None):
    _ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    (d / f"{name}.ext").write_text(ext)
    _ssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
         "-out", f"{name}.pem", "-days", days, "-extfile", f"{name}.ext", cwd=d)


@dataclass
class Certs:
    dir: Path

    def __getattr__(self, name):
        return str(self.dir / name.replace("_", "."))  # certs.server_pem: server.pem


def make_certs(d: Path) -> Certs:
    d.mkdir(parents=True, exist_ok=True)
    _ca(d, "ca")
    _ca(d, "otherca")
    _leaf(d, "server", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    for client in ("client", "revoked"):
        _leaf(d, client, "ca", "extendedKeyUsage=clientAuth\n")
    _leaf(d, "stranger", "otherca", "extendedKeyUsage=clientAuth\n")
    # An encrypted server key (PKCS#8, AES-256).
    _ssl("pkcs8", "-topk8", "-in", "server.key", "-out", "server.enc.key", "-v2", "aes-256-cbc",
         "-passout", f"pass:{PASSWORD}", cwd=d)
    # A CRL revoking "revoked" (openssl ca needs its little database).
    (d / "index.txt").write_text("")
    (d / "crlnumber").write_text("01\n")
    (d / "serial").write_text("1000\n")
    (d / "ca.cnf").write_text(
        "[ca]\ndefault_ca=CA_default\n[CA_default]\ndatabase=index.txt\ncrlnumber=crlnumber\n"
        "default_md=sha256\ndefault_crl_days=3\nnew_certs_dir=.\npolicy=policy_any\nserial=serial\n"
        "[policy_any]\ncommonName=supplied\n"
    )
    _ssl("ca", "-config", "ca.cnf", "-revoke", "revoked.pem", "-keyfile", "ca.key", "-cert", "ca.pem", cwd=d)
    _ssl("ca", "-config", "ca.cnf", "-gencrl", "-keyfile", "ca.key", "-cert", "ca.pem", "-out", "ca.crl", cwd=d)
    # Expired: valid for one day in 2020.
    _ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", "expired.key", "-out", "expired.csr", "-subj", "/CN=localhost", cwd=d)
    _ssl("ca", "-config", "ca.cnf", "-batch", "-notext", "-in", "expired.csr", "-out", "expired.pem",
         "-keyfile", "ca.key", "-cert", "ca.pem", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", cwd=d)
    (d / "client.both.pem").write_text((d / "client.pem").read_text() + (d / "client.key").read_text())
    return Certs(d)
