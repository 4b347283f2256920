"""Reading an inbound e-mail (RFC 5322, MIME) into the ``Inbound`` a thread takes. Pure: no database, no web.

Both ways e-mail arrives, the built-in SMTP listener (``careline smtpd``) and a provider's webhook, read the
raw message here, so they thread, limit and store it the same way.
"""

from __future__ import annotations

import hashlib
import re
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from html.parser import HTMLParser

from careline.messaging.errors import InvalidMessage, TooLarge
from careline.messaging.rules import Channel
from careline.messaging.schemas import Inbound

MESSAGE_ID = re.compile(r"<[^<>\s]{1,298}>")
ID_LIMIT = 300  # the provider_id column; a longer Message-ID is replaced by one derived from the content
REFERENCES_KEPT = 50  # the newest ids of a long References header are plenty to find the thread
SUBJECT_LIMIT = 300
FILENAME_LIMIT = 200
DERIVED_DOMAIN = "derived.careline.invalid"
_HASHED_HEADERS = ("from", "to", "cc", "date", "subject")


def parse(raw: bytes, *, attachment_max_bytes: int) -> Inbound:
    """The message as an ``Inbound``; ``TooLarge`` for an attachment over the limit, ``InvalidMessage`` for one
    with no sender."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # policy.default makes EmailMessage objects
    sender = _first_address(message, "from")
    if sender is None:
        raise InvalidMessage("from", "The e-mail has no sender address (From).")
    text_part, html_part = message.get_body(("plain",)), message.get_body(("html",))
    html = _text_of(html_part) if html_part is not None else None
    body = _text_of(text_part) if text_part is not None else (html_to_text(html) if html else "")
    subject = " ".join(str(message.get("subject") or "").split())[:SUBJECT_LIMIT] or None  # one line, as headers are
    return Inbound(channel=Channel.email, address=sender, body=body.strip(), provider_id=_message_id(message, raw),
                   center_address=_first_address(message, "to"), subject=subject, html=html,
                   references=references_of(message),
                   attachments=_attachments(message, {id(text_part), id(html_part)}, attachment_max_bytes))


def _first_address(message: EmailMessage, header: str) -> str | None:
    try:
        addresses: tuple[Address, ...] = message[header].addresses if message[header] is not None else ()
    except (AttributeError, IndexError, ValueError):  # a header too broken for the registry to read
        return None
    found = next((address.addr_spec for address in addresses if "@" in address.addr_spec), None)
    return found[:320] if found else None


def _message_id(message: EmailMessage, raw: bytes) -> str:
    """Its own Message-ID; without one (or with one too long to keep), one derived from what it says, so the
    same message delivered twice, whatever relays it passed, is kept once."""
    found = MESSAGE_ID.search(str(message.get("message-id") or ""))
    if found and len(found.group()) <= ID_LIMIT:
        return found.group()
    digest = hashlib.sha256()
    for name in _HASHED_HEADERS:
        digest.update(f"{name}:{message.get(name, '')}\n".encode(errors="replace"))
    digest.update(_raw_body(raw))
    return f"<{digest.hexdigest()[:40]}@{DERIVED_DOMAIN}>"


def _raw_body(raw: bytes) -> bytes:
    for separator in (b"\r\n\r\n", b"\n\n"):
        _, found, body = raw.partition(separator)
        if found:
            return body
    return b""


def references_of(message: EmailMessage) -> tuple[str, ...]:
    """In-Reply-To's ids, then References' (newest last), each once."""
    ids = (MESSAGE_ID.findall(str(message.get("in-reply-to") or ""))
           + MESSAGE_ID.findall(str(message.get("references") or ""))[-REFERENCES_KEPT:])
    return tuple(dict.fromkeys(ids))


def _attachments(message: EmailMessage, bodies: set[int], limit: int) -> tuple[tuple[str, str, bytes], ...]:
    kept = []
    for part in message.walk():
        if part.is_multipart() or id(part) in bodies or _is_inline_text(part):
            continue
        name = (part.get_filename() or "attachment").strip()[:FILENAME_LIMIT] or "attachment"
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        if len(data) > limit:
            raise TooLarge(f'Attachment "{name}" is larger than {describe_size(limit)}')
        kept.append((name, part.get_content_type()[:100], data))
    return tuple(kept)


def _is_inline_text(part: MIMEPart) -> bool:
    """An alternative body (a text part nobody attached): not kept as a file."""
    return part.get_content_maintype() == "text" and part.get_content_disposition() != "attachment" \
        and not part.get_filename()


def _text_of(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError):  # an unknown or lying charset
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def describe_size(size: int) -> str:
    """A byte count as people say it: ``10 MB``, ``512 KB``."""
    megabytes = size / 1024 / 1024
    if megabytes >= 1:
        return f"{megabytes:.3g} MB"
    return f"{size / 1024:.3g} KB"


class _TextOfHtml(HTMLParser):
    BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"})
    HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in self.HIDDEN
        if tag in self.BREAKS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self.BREAKS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.pieces.append(data)


def html_to_text(html: str) -> str:
    """The words of an HTML body, a line per block, for a message that came without a plain-text part."""
    reader = _TextOfHtml()
    reader.feed(html)
    reader.close()
    lines = (" ".join(line.split()) for line in "".join(reader.pieces).splitlines())
    return "\n".join(line for line in lines if line)
