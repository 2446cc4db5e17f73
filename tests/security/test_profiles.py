"""Security profiles 1, 2 and 3 against the embedded CSMS over TLS on 127.0.0.1.

Certificates are minted by ``fleetsim certs`` code; a wrong password or an
untrusted certificate must be refused and reported by name.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from fleetsim.csms import CsmsConfig, serve
from fleetsim.exceptions import CsmsUnreachable
from fleetsim.security.certs import CertPaths, mint
from fleetsim.security.tls import client_context, per_station_contexts
from tests.integration.fleet import VERSIONS, Fleet, wait_for

IDS = ["SEC000", "SEC001", "SEC002"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    return mint(tmp_path_factory.mktemp("pki"), IDS)


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    return mint(tmp_path_factory.mktemp("other"), IDS)


async def boots(config: CsmsConfig, **options: Any) -> None:
    """Every station connects, boots and is counted as booted by the CSMS."""
    server = await serve(config)
    fleet = Fleet(server.url, VERSIONS, ids=IDS, **options).start()
    try:
        await wait_for(lambda: all(st.booted for st in fleet.stations), 10, "every boot")
        assert {r.station_id: r.boots for r in server.ledger.stations()} == dict.fromkeys(IDS, 1)
    finally:
        await fleet.finish()
        await server.close()


async def refused(config: CsmsConfig, **options: Any) -> str:
    """The engine gives up with CsmsUnreachable; returns its message."""
    server = await serve(config)
    fleet = Fleet(server.url, VERSIONS, ids=IDS, unreachable_after=3, **options).start()
    try:
        assert fleet.task is not None
        with pytest.raises(CsmsUnreachable) as err:
            await fleet.task
        return str(err.value)
    finally:
        await server.close()


def test_minted_files(pki: CertPaths) -> None:
    assert pki.ca.exists() and pki.server_cert.exists()
    for sid in IDS:
        assert stat.S_IMODE(os.stat(pki.station_key(sid)).st_mode) == 0o600
        assert b"PRIVATE KEY" not in pki.station_cert(sid).read_bytes()
    assert stat.S_IMODE(os.stat(pki.server_key).st_mode) == 0o600


async def test_profile_1_basic_auth_per_station_password() -> None:
    await boots(CsmsConfig(port=0, password_template="pw-{station_id}"),
                password="pw-{station_id}")
    msg = await refused(CsmsConfig(port=0, password_template="pw-{station_id}"),
                        password="wrong")
    assert "HTTP 401" in msg and "wrong password" in msg and "pw-" not in msg


async def test_profile_2_tls_with_basic_auth(pki: CertPaths) -> None:
    config = CsmsConfig(port=0, tls_cert=str(pki.server_cert), tls_key=str(pki.server_key),
                        passwords={sid: f"secret{i}" for i, sid in enumerate(IDS)})
    ctx = client_context(ca=pki.ca)
    server_pw = {sid: f"s3cret-{sid}" for sid in IDS}
    await boots(CsmsConfig(port=0, tls_cert=str(pki.server_cert), tls_key=str(pki.server_key),
                           passwords=server_pw), password="s3cret-{station_id}",
                ssl_context=ctx)
    msg = await refused(config, password="s3cret-{station_id}", ssl_context=ctx)
    assert "HTTP 401" in msg


async def test_profile_2_untrusted_server_certificate_is_refused(
        pki: CertPaths, other_pki: CertPaths) -> None:
    config = CsmsConfig(port=0, tls_cert=str(pki.server_cert), tls_key=str(pki.server_key))
    msg = await refused(config, ssl_context=client_context(ca=other_pki.ca))
    assert "TLS error: certificate verify failed" in msg
    # verification can be turned off for lab CSMSs with home-made certificates
    await boots(config, ssl_context=client_context(ca=other_pki.ca, verify=False))


async def test_profile_3_mutual_tls(pki: CertPaths, other_pki: CertPaths) -> None:
    config = CsmsConfig(port=0, tls_cert=str(pki.server_cert), tls_key=str(pki.server_key),
                        client_ca=str(pki.ca))
    await boots(config, ssl_context_for=per_station_contexts(pki.stations, ca=pki.ca))
    # a certificate from a CA the CSMS does not trust: refused in the TLS handshake
    msg = await refused(config, ssl_context_for=per_station_contexts(other_pki.stations,
                                                                     ca=pki.ca))
    assert "TLS error" in msg
    # no certificate at all
    msg = await refused(config, ssl_context=client_context(ca=pki.ca))
    assert "TLS error" in msg


async def test_profile_3_certificate_must_name_the_station(pki: CertPaths, tmp_path: Path) -> None:
    config = CsmsConfig(port=0, tls_cert=str(pki.server_cert), tls_key=str(pki.server_key),
                        client_ca=str(pki.ca))
    swapped = tmp_path / "swapped"  # each station presents its neighbour's certificate
    swapped.mkdir()
    for i, sid in enumerate(IDS):
        other = IDS[(i + 1) % len(IDS)]
        (swapped / f"{sid}.pem").write_bytes(pki.station_cert(other).read_bytes())
        (swapped / f"{sid}.key").write_bytes(pki.station_key(other).read_bytes())
    msg = await refused(config, ssl_context_for=per_station_contexts(swapped, ca=pki.ca))
    assert "HTTP 403" in msg
