"""MOR-RPC messages and their canonical "Go-JSON" bytes (spec §5.2, §5.3, §5.6, §5.7).

Signatures cover the bytes Go's ``encoding/json`` would produce when it re-marshals the *decoded*
struct, so every message here is a typed dataclass that knows its field order, its omitempty rules
and the encoding of each field type. Parsers are strict: anything Go would refuse, or that our
provider must not act on, raises ``ProtocolError``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, Self

from app.p2p.errors import ProtocolError
from app.p2p.gofields import (
    MISSING,
    UINT64_MAX,
    ZERO_ADDRESS,
    clean_text,
    field_index,
    fold,
    lookup,
    parse_address,
    parse_bigint,
    parse_bool,
    parse_bytes32,
    parse_hex,
    parse_int,
    parse_string,
    parse_uint,
)

Kind = Literal["address", "bytes32", "hex", "bigint", "uint", "int", "string", "bool"]

_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_PLAIN_HEX_RE = re.compile(r"[0-9a-fA-F]*\Z")

# Go's HTML-safe escaping plus the two JavaScript line separators; they only occur inside strings.
_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def go_json_bytes(value: Any, *, sort_keys: bool = False) -> bytes:
    """Serialize like Go's ``json.Marshal``: compact, HTML-escaped, raw UTF-8 elsewhere."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    text = text.translate(_GO_ESCAPES)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate cannot be UTF-8; Go writes U+FFFD for invalid text.
        return _SURROGATE_RE.sub("\ufffd", text).encode("utf-8")


def hex0x(data: bytes) -> str:
    return "0x" + data.hex()


# ---------------------------------------------------------------- field codecs


def _encode(kind: Kind, value: Any) -> Any:
    if kind == "hex":
        return hex0x(value)
    if kind == "bytes32":
        return hex0x(value)
    if kind == "address":
        return value.lower()
    if kind == "bigint":
        return str(value)
    return value


def _parse(kind: Kind, value: Any, name: str) -> Any:
    if kind == "hex":
        return parse_hex(value, name)
    if kind == "bytes32":
        return parse_bytes32(value, name)
    if kind == "address":
        return parse_address(value, name)
    if kind == "bigint":
        return parse_bigint(value, name)
    if kind == "uint":
        return parse_uint(value, name)
    if kind == "int":
        return parse_int(value, name)
    if kind == "bool":
        return parse_bool(value, name)
    return parse_string(value, name)


def _is_empty(kind: Kind, value: Any) -> bool:
    if kind in ("hex", "string"):
        return len(value) == 0
    if kind == "bool":
        return value is False
    if kind == "bytes32":
        return value == bytes(32)
    if kind == "address":
        return value == ZERO_ADDRESS
    return value == 0


# ---------------------------------------------------------------- messages


@dataclass(frozen=True)
class Spec:
    key: str
    attr: str
    kind: Kind
    omitempty: bool = False
    required: bool = False


class Message:
    """Base of every params/result struct: field order, encoding, parsing, required checks."""

    FIELDS: ClassVar[tuple[Spec, ...]]
    SIGNATURE_ATTR: ClassVar[str | None] = "signature"

    def to_json(self, *, empty_signature: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in self.FIELDS:
            value = getattr(self, spec.attr)
            if empty_signature and spec.attr == self.SIGNATURE_ATTR:
                value = b""
            if spec.omitempty and _is_empty(spec.kind, value):
                continue
            out[spec.key] = _encode(spec.kind, value)
        return out

    def wire_bytes(self) -> bytes:
        return go_json_bytes(self.to_json())

    def signed_bytes(self) -> bytes:
        """The canonical bytes whose keccak256 is signed: this struct with its signature emptied."""
        return go_json_bytes(self.to_json(empty_signature=True))

    @classmethod
    def parse(cls, obj: Any) -> Self:
        if not isinstance(obj, dict):
            raise ProtocolError(f"{cls.__name__} must be a JSON object")
        index = field_index(obj)
        kwargs = {
            spec.attr: _parse(spec.kind, index.get(fold(spec.key), MISSING), spec.key)
            for spec in cls.FIELDS
        }
        msg = cls(**kwargs)
        for spec in cls.FIELDS:
            if spec.required and _is_empty(spec.kind, kwargs[spec.attr]):
                raise ProtocolError(f"{spec.key} is required")
        return msg


def _check_fields(cls: type[Message]) -> type[Message]:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    assert names == {s.attr for s in cls.FIELDS}, cls
    return cls


@_check_fields
@dataclass(frozen=True)
class PingParams(Message):
    nonce: bytes
    signature: bytes = b""
    FIELDS = (
        Spec("nonce", "nonce", "hex", required=True),
        Spec("signature", "signature", "hex", required=True),
    )


@_check_fields
@dataclass(frozen=True)
class PongResult(Message):
    nonce: bytes
    version: str = ""
    signature: bytes = b""
    FIELDS = (
        Spec("nonce", "nonce", "hex", required=True),
        Spec("version", "version", "string", omitempty=True),
        Spec("signature", "signature", "hex", required=True),
    )


@_check_fields
@dataclass(frozen=True)
class SessionRequestParams(Message):
    user: str
    key: bytes
    spend: int
    timestamp: int
    bid_id: bytes
    signature: bytes = b""
    FIELDS = (
        Spec("signature", "signature", "hex", omitempty=True, required=True),
        Spec("user", "user", "address", required=True),
        Spec("key", "key", "hex", required=True),
        Spec("spend", "spend", "bigint"),
        Spec("timestamp", "timestamp", "uint", required=True),
        Spec("bidid", "bid_id", "bytes32", required=True),
    )


@_check_fields
@dataclass(frozen=True)
class SessionRequestResult(Message):
    provider_key: bytes
    approval: bytes
    approval_sig: bytes
    user: str
    timestamp: int
    signature: bytes = b""
    FIELDS = (
        Spec("message", "provider_key", "hex", required=True),
        Spec("approval", "approval", "hex", required=True),
        Spec("approvalSig", "approval_sig", "hex", required=True),
        Spec("user", "user", "address", required=True),
        Spec("timestamp", "timestamp", "uint"),
        Spec("signature", "signature", "hex", omitempty=True, required=True),
    )


@_check_fields
@dataclass(frozen=True)
class PromptParams(Message):
    session_id: bytes
    message: str
    timestamp: int
    signature: bytes = b""
    FIELDS = (
        Spec("signature", "signature", "hex", omitempty=True, required=True),
        Spec("sessionid", "session_id", "bytes32", required=True),
        Spec("message", "message", "string", required=True),
        Spec("timestamp", "timestamp", "uint", required=True),
    )


@_check_fields
@dataclass(frozen=True)
class PromptChunk(Message):
    """One streamed result: ``message`` is the ECIES ciphertext as lowercase hex without 0x."""

    message: str
    timestamp: int
    signature: bytes = b""
    FIELDS = (
        Spec("message", "message", "string", required=True),
        Spec("signature", "signature", "hex", omitempty=True, required=True),
        Spec("timestamp", "timestamp", "uint"),
    )

    # Every token of every answer passes through here twice (provider signs, consumer verifies),
    # so the usual case (hex ciphertext) is formatted directly; the bytes are identical to the
    # generic encoder's (tests compare both), anything unusual takes the generic path.

    def signed_bytes(self) -> bytes:
        if self.message and _PLAIN_HEX_RE.match(self.message):
            return chunk_signed_bytes(self.message.encode(), self.timestamp)
        return super().signed_bytes()

    def wire_bytes(self) -> bytes:
        if self.message and self.signature and _PLAIN_HEX_RE.match(self.message):
            return chunk_wire_bytes(self.message.encode(), self.signature, self.timestamp)
        return super().wire_bytes()


def chunk_signed_bytes(hex_message: bytes, timestamp: int) -> bytes:
    """A chunk's signed Go-JSON when ``hex_message`` is known to be plain hex (no escaping)."""
    return b'{"message":"%s","timestamp":%d}' % (hex_message, timestamp)


def chunk_wire_bytes(hex_message: bytes, signature: bytes, timestamp: int) -> bytes:
    """A chunk's wire Go-JSON when ``hex_message`` is known to be plain hex and signed."""
    return b'{"message":"%s","signature":"0x%s","timestamp":%d}' % (
        hex_message,
        signature.hex().encode(),
        timestamp,
    )


@_check_fields
@dataclass(frozen=True)
class ReportParams(Message):
    message: str  # the session id as "0x" + 64 hex
    timestamp: int
    signature: bytes = b""
    FIELDS = (
        Spec("signature", "signature", "hex", omitempty=True, required=True),
        Spec("message", "message", "string", required=True),
        Spec("timestamp", "timestamp", "uint", required=True),
    )

    @property
    def session_id(self) -> bytes:
        return parse_bytes32(self.message, "message")


@_check_fields
@dataclass(frozen=True)
class ReportResult(Message):
    receipt: bytes
    signed_report: bytes
    timestamp: int
    signature: bytes = b""
    FIELDS = (
        Spec("message", "receipt", "hex", required=True),
        Spec("signedReport", "signed_report", "hex", required=True),
        Spec("signature", "signature", "hex", omitempty=True, required=True),
        Spec("timestamp", "timestamp", "uint"),
    )


@_check_fields
@dataclass(frozen=True)
class ErrorData(Message):
    timestamp: int
    signature: bytes = b""
    FIELDS = (
        Spec("timestamp", "timestamp", "uint"),
        Spec("signature", "signature", "hex"),
    )


UNSIGNED_ERROR_SIGNATURE = b"\x00"


@dataclass(frozen=True)
class RpcError:
    """§5.7 error object; ``data.signature`` is 0x00 for plain-text infrastructure errors."""

    message: str
    timestamp: int
    code: int = 400
    signature: bytes = UNSIGNED_ERROR_SIGNATURE

    @property
    def is_signed(self) -> bool:
        return self.signature not in (b"", UNSIGNED_ERROR_SIGNATURE)

    def to_json(self, *, empty_signature: bool = False) -> dict[str, Any]:
        sig = b"" if empty_signature else self.signature
        return {
            "message": self.message,
            "code": self.code,
            "data": ErrorData(self.timestamp, sig).to_json(),
        }

    def signed_bytes(self) -> bytes:
        return go_json_bytes(self.to_json(empty_signature=True))

    @classmethod
    def parse(cls, obj: Any) -> RpcError:
        if not isinstance(obj, dict):
            raise ProtocolError("error must be a JSON object")
        raw_data = lookup(obj, "data")
        data = ErrorData.parse(raw_data if isinstance(raw_data, dict) else {})
        return cls(
            message=parse_string(lookup(obj, "message"), "message"),
            code=parse_int(lookup(obj, "code"), "code"),
            timestamp=data.timestamp,
            signature=data.signature,
        )


# ---------------------------------------------------------------- envelopes


@dataclass(frozen=True)
class RpcRequest:
    id: str
    method: str
    params: Any  # the raw decoded params value; typed by the handler for ``method``

    def wire_bytes(self) -> bytes:
        return go_json_bytes({"id": self.id, "method": self.method, "params": self.params})


def encode_request(request_id: str, method: str, params: Message) -> bytes:
    return go_json_bytes({"id": request_id, "method": method, "params": params.to_json()})


def encode_result(request_id: str, result: Message) -> bytes:
    return b'{"id":%s,"result":%s}' % (go_json_bytes(request_id), result.wire_bytes())


def encode_error(request_id: str, error: RpcError) -> bytes:
    return go_json_bytes({"id": request_id, "result": None, "error": error.to_json()})


def parse_request(obj: Any) -> RpcRequest:
    """Envelope check as Go's ``RPCMessage``: ``id`` and ``method`` are strings (absent or
    ``null`` leave them empty; any other type fails the decode, and Go then closes)."""
    if not isinstance(obj, dict):
        raise ProtocolError("request must be a JSON object")
    index = field_index(obj)
    request_id = parse_string(index.get("ID", MISSING), "id")
    method = parse_string(index.get("METHOD", MISSING), "method")
    params = index.get("PARAMS", MISSING)
    return RpcRequest(request_id, method, None if params is MISSING else params)


@dataclass(frozen=True)
class RpcResponse:
    id: str
    result: Any
    error: RpcError | None


def parse_response(obj: Any) -> RpcResponse:
    if not isinstance(obj, dict):
        raise ProtocolError("response must be a JSON object")
    index = field_index(obj)
    response_id = parse_string(index.get("ID", MISSING), "id")
    raw_error = index.get("ERROR")
    error = RpcError.parse(raw_error) if raw_error is not None else None
    return RpcResponse(response_id, index.get("RESULT"), error)


__all__ = [
    "UINT64_MAX",
    "ZERO_ADDRESS",
    "clean_text",
    "lookup",
    "parse_address",
    "parse_bigint",
    "parse_bytes32",
    "parse_hex",
    "parse_int",
    "parse_string",
    "parse_uint",
]
