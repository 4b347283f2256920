"""Request-level failures raised by the web plumbing itself (domain errors live in each domain)."""

from careline.audit.errors import AuditedRefusal


class NotSignedIn(Exception):
    """No valid session or token: 401 for the API, a redirect to sign-in for pages."""


class Forbidden(AuditedRefusal):
    """Signed in, but the role may not use this route (the denial is audited and kept)."""


class CsrfFailed(Exception):
    """An unsafe request without a valid CSRF token."""


class BadSignature(Exception):
    """A provider's webhook (Twilio, a PBX's CTI events) whose signature does not check out: 403, nothing recorded.
    Not an audited refusal: nobody is signed in, and a forged request must not write anything."""
