"""Text in request bodies, read in the charset it is sent in (a pure ASGI middleware).

Form bodies (urlencoded and multipart) are decoded by the charset their Content-Type declares,
UTF-8 when none is declared; the Chinese GB charsets are read too, since phone apps send them.
JSON bodies must be UTF-8 (RFC 8259). A body that is not valid in its charset, or that
declares a charset we do not read, is refused with `BodyEncodingError` before any route sees
a character of it, so that no mis-decoded text is ever stored.

Starlette decodes urlencoded bytes as Latin-1 and multipart text that fails its charset as
Latin-1 too. So urlencoded bodies are rewritten here as ASCII with every character
percent-encoded in UTF-8 (which Starlette reads exactly), and multipart text fields are
checked as they stream past, and Starlette is told the charset by its decoder's name. A
request with more than one Content-Type is refused: Starlette reads the first.
"""

from __future__ import annotations

import codecs
from urllib.parse import quote, unquote_to_bytes

from fastapi import HTTPException
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from geo.i18n import _

URLENCODED = b"application/x-www-form-urlencoded"
MULTIPART = b"multipart/form-data"
# Charset labels we read in forms → the decoder. GBK and GB2312 are read with the GB18030
# decoder, a superset of both, as the WHATWG Encoding Standard does.
FORM_CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "us-ascii": "ascii", "ascii": "ascii",
                 "gb18030": "gb18030", "gbk": "gb18030", "gb2312": "gb18030", "x-gbk": "gb18030"}
JSON_CHARSETS = ("utf-8", "utf8")


class BodyEncodingError(HTTPException):
    """A request body that is not valid text in its charset (400) or declares one we do not
    read (400 for forms, 415 for JSON)."""

    def __init__(self, detail: str, status_code: int = 400, code: str = "invalid_encoding"):
        super().__init__(status_code=status_code, detail=detail)
        self.code = code


def _label(params: dict) -> str | None:
    raw = params.get(b"charset")
    return raw.decode("latin-1").strip().lower() if raw else None


def form_charset(params: dict) -> str:
    """The decoder for a form's declared charset (UTF-8 when none), or BodyEncodingError."""
    label = _label(params)
    if label is None:
        return "utf-8"
    if label not in FORM_CHARSETS:
        raise BodyEncodingError(_("form bodies in charset {charset} are not accepted; send "
                                  "UTF-8 (or declare charset=gb18030, gbk or gb2312)").format(
                                      charset=label), code="unsupported_charset")
    return FORM_CHARSETS[label]


def _named(charset: str) -> str:
    return {"utf-8": "UTF-8", "ascii": "US-ASCII", "gb18030": "GB18030"}[charset]


def _decode(data: bytes, charset: str, refusal: str, name: str = "") -> str:
    """`data` decoded; else a refusal in words (`refusal`, translated, names the part by
    {name} and says where the bad bytes are by {charset}, {bad} and {offset})."""
    try:
        return data.decode(charset)
    except UnicodeDecodeError as exc:
        bad = data[exc.start:exc.start + 4].hex(" ")
        raise BodyEncodingError(refusal.format(name=name, charset=_named(charset), bad=bad,
                                               offset=exc.start)) from None


def canonical_form(body: bytes, charset: str) -> bytes:
    """An urlencoded body decoded by `charset`, written again as ASCII: every name and value
    percent-encoded in UTF-8. BodyEncodingError names the first field that does not decode."""
    pairs = []
    for chunk in body.split(b"&"):
        if not chunk:
            continue
        raw_name, eq, raw_value = chunk.partition(b"=")
        name = _decode(unquote_to_bytes(raw_name.replace(b"+", b" ")), charset, _(
            "a form field name is not valid {charset} (bytes {bad} at offset {offset}); send "
            "UTF-8 text, or declare the charset the text is in (charset=gb18030)"))
        value = _decode(unquote_to_bytes(raw_value.replace(b"+", b" ")), charset, _(
            "form field {name} is not valid {charset} (bytes {bad} at offset {offset}); send "
            "UTF-8 text, or declare the charset the text is in (charset=gb18030)"), name)
        pairs.append(quote(name, safe="") + ("=" + quote(value, safe="") if eq else ""))
    return "&".join(pairs).encode("ascii")


class _MultipartText:
    """Checks, chunk by chunk, that a multipart body's field names, file names and text
    fields are valid in the form's charset. Files' contents are not looked at."""

    def __init__(self, boundary: bytes, charset: str):
        self.charset = charset
        self.error: BodyEncodingError | None = None
        self._header = [b"", b""]
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._text: bytearray | None = None
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._begin, "on_header_field": self._field,
            "on_header_value": self._value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done, "on_part_data": self._data,
            "on_part_end": self._end})
        self.broken = False  # malformed multipart: Starlette's parser will say so

    def write(self, chunk: bytes) -> None:
        if self.broken or self.error or not chunk:
            return
        try:
            self._parser.write(chunk)
        except BodyEncodingError as exc:
            self.error = exc
        except FormParserError:
            self.broken = True

    def _begin(self) -> None:
        self._headers, self._text, self._name = {}, None, ""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header[0] += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header[1] += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header[0].strip().lower()] = self._header[1]
        self._header = [b"", b""]

    def _headers_done(self) -> None:
        _kind, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = _decode(options.get(b"name", b""), self.charset, _(
            "a multipart field name is not valid {charset} (bytes {bad} at offset {offset}); "
            "send UTF-8 text, or declare the charset the text is in (charset=gb18030)"))
        if b"filename" in options:
            _decode(options[b"filename"], self.charset, _(
                "the file name of field {name} is not valid {charset} (bytes {bad} at offset "
                "{offset}); send UTF-8 text, or declare the charset the text is in "
                "(charset=gb18030)"), self._name)
            return
        _media, part = parse_options_header(self._headers.get(b"content-type", b""))
        label = _label(part)
        if label is not None and FORM_CHARSETS.get(label) != self.charset:
            raise BodyEncodingError(_(
                "multipart field {name} declares charset {charset}, but text fields are read in "
                "the form's charset ({form}); send them in it, or declare that charset on the "
                "multipart/form-data Content-Type").format(
                    name=self._name, charset=label, form=_named(self.charset)),
                code="unsupported_charset")
        self._text = bytearray()

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._text is not None:
            self._text += data[start:end]

    def _end(self) -> None:
        if self._text is not None:
            _decode(bytes(self._text), self.charset, _(
                "multipart field {name} is not valid {charset} (bytes {bad} at offset {offset}); "
                "send UTF-8 text, or declare the charset the text is in (charset=gb18030)"),
                self._name)
            self._text = None


class _Utf8Json:
    """Checks, chunk by chunk, that a JSON body is UTF-8. NUL bytes never occur in JSON text
    (they would be escaped), but ASCII JSON in UTF-16 or UTF-32 is full of them."""

    def __init__(self):
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0

    def write(self, chunk: bytes, final: bool) -> None:
        if b"\x00" in chunk:
            raise BodyEncodingError(_("JSON bodies must be UTF-8 (RFC 8259); this one holds "
                                      "NUL bytes, as UTF-16 or UTF-32 text does"))
        try:
            self._decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            at = self._offset - (len(exc.object) - len(chunk)) + exc.start  # buffered bytes
            raise BodyEncodingError(_("JSON bodies must be UTF-8 (RFC 8259); this one is not "
                                      "(byte 0x{byte} at offset {offset})").format(
                                          byte=f"{exc.object[exc.start]:02x}", offset=at)) from None
        self._offset += len(chunk)


def _is_json(media: bytes) -> bool:
    return media == b"application/json" or (media.startswith(b"application/")
                                            and media.endswith(b"+json"))


class BodyEncoding:
    """ASGI middleware: read form bodies by their charset, and JSON bodies as UTF-8 only.

    Errors are raised from `receive`, inside the route that reads the body, so the
    application's exception handlers answer them in each API's own error format."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        types = [v for k, v in scope["headers"] if k == b"content-type"]
        if not types:
            return await self.app(scope, receive, send)
        if len(types) > 1:  # Starlette reads the first: no rule may judge another one
            return await self.app(scope, _refused_receive(BodyEncodingError(_(
                "a request body has one Content-Type header; this request has {n}").format(
                    n=len(types)), code="multiple_content_types")), send)
        media, params = parse_options_header(types[0])
        if media == URLENCODED:
            return await self._urlencoded(scope, receive, send, params)
        if media == MULTIPART and params.get(b"boundary"):
            return await self.app(_multipart_scope(scope, media, params),
                                  _multipart_receive(receive, params), send)
        if _is_json(media):
            return await self.app(scope, _json_receive(receive, params), send)
        return await self.app(scope, receive, send)

    async def _urlencoded(self, scope, receive, send, params):
        state = {"done": False}
        headers = [(k, v) for k, v in scope["headers"]
                   if k not in (b"content-type", b"content-length")]

        async def canonical_receive():
            if state["done"]:
                return await receive()
            charset = form_charset(params)
            body = bytearray()
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return message
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            state["done"] = True
            return {"type": "http.request", "body": canonical_form(bytes(body), charset),
                    "more_body": False}

        # The rewritten body is UTF-8 percent-encoded ASCII; the headers say so.
        headers.append((b"content-type", URLENCODED + b"; charset=utf-8"))
        await self.app({**scope, "headers": headers}, canonical_receive, send)


def _refused_receive(error: BodyEncodingError):
    async def refused():
        raise error

    return refused


def _multipart_scope(scope, media: bytes, params: dict) -> dict:
    """The scope with the form's charset named by its decoder. Starlette decodes multipart
    text by the declared label and falls back to Latin-1 where that fails: for labels Python
    lacks (x-gbk) and for GBK text declared as the narrower gb2312. An unknown charset is
    left as sent: `receive` refuses it."""
    label = _label(params)
    if label is None or label not in FORM_CHARSETS:
        return scope
    boundary = params[b"boundary"].replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    header = (media + b"; charset=" + FORM_CHARSETS[label].encode()
              + b'; boundary="' + boundary + b'"')
    headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
    return {**scope, "headers": [*headers, (b"content-type", header)]}


def _multipart_receive(receive, params):
    checker: list[_MultipartText] = []

    async def checked():
        if not checker:
            checker.append(_MultipartText(params[b"boundary"], form_charset(params)))
        message = await receive()
        if message["type"] == "http.request":
            checker[0].write(message.get("body", b""))
            if checker[0].error:
                raise checker[0].error
        return message

    return checked


def _json_receive(receive, params):
    label = _label(params)
    checker = _Utf8Json()

    async def checked():
        if label is not None and label not in JSON_CHARSETS:
            raise BodyEncodingError(_("JSON bodies must be UTF-8 (RFC 8259), not {charset}").format(
                charset=label), 415, code="unsupported_charset")
        message = await receive()
        if message["type"] == "http.request":
            checker.write(message.get("body", b""), not message.get("more_body", False))
        return message

    return checked
