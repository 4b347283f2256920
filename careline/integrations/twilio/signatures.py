"""Is this request from Twilio? The ``X-Twilio-Signature`` over the public URL and every form parameter."""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import ip_address, ip_network

from twilio.request_validator import RequestValidator

HEADER = "X-Twilio-Signature"


def public_origin(
    *,
    scheme: str,
    host: str,
    headers: Mapping[str, str],
    client: str | None,
    trusted_proxies: str,
    configured: str | None,
) -> str:
    """The scheme and host Twilio requested (part of what it signed), e.g. ``https://cc.example.org``.

    ``CARELINE_PUBLIC_URL`` wins when set. Otherwise a trusted reverse proxy's ``X-Forwarded-Proto`` and
    ``X-Forwarded-Host`` name the public scheme and host; anyone else's are ignored, or a forger could
    pick the URL the signature is checked against.
    """
    if configured:
        return configured.rstrip("/")
    if client is not None and _trusted(client, trusted_proxies):
        scheme = headers.get("x-forwarded-proto", scheme).split(",")[0].strip() or scheme
        host = headers.get("x-forwarded-host", host).split(",")[0].strip() or host
    return f"{scheme}://{host}"


def _trusted(client: str, trusted_proxies: str) -> bool:
    for entry in (item.strip() for item in trusted_proxies.split(",")):
        if entry == "*":
            return True
        try:
            if entry and ip_address(client) in ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def is_valid(*, auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """Checked with the library's validator, which also tries the URL with and without its default port."""
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))
