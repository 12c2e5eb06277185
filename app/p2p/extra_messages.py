"""MOR-RPC requests a Go consumer may send that this provider does not serve (§5.6.5, §5.6.6):
MCP agent tools and the three-step audio upload. They are parsed and authenticated like a prompt,
so the refusal can be encrypted to the user and signed (a Go consumer reads only that form as the
provider's own answer); an unauthenticated one gets the plain infrastructure error."""

from __future__ import annotations

from dataclasses import dataclass

from app.p2p.gojson import Message, Spec, _check_fields


@_check_fields
@dataclass(frozen=True)
class GetToolsParams(Message):
    session_id: bytes
    timestamp: int
    signature: bytes = b""
    FIELDS = (
        Spec("sessionid", "session_id", "bytes32", required=True),
        Spec("signature", "signature", "hex", omitempty=True, required=True),
        Spec("timestamp", "timestamp", "uint", required=True),
    )


@_check_fields
@dataclass(frozen=True)
class CallToolParams(Message):
    session_id: bytes
    tool_name: str
    message: str
    timestamp: int
    signature: bytes = b""
    FIELDS = (
        Spec("sessionid", "session_id", "bytes32", required=True),
        Spec("toolname", "tool_name", "string", required=True),
        Spec("message", "message", "string", required=True),
        Spec("signature", "signature", "hex", omitempty=True, required=True),
        Spec("timestamp", "timestamp", "uint", required=True),
    )


@_check_fields
@dataclass(frozen=True)
class StreamStartParams(Message):
    session_id: bytes
    stream_id: str
    total_chunks: int
    file_size: int
    content_type: str
    timestamp: int
    signature: bytes = b""
    FIELDS = (
        Spec("sessionid", "session_id", "bytes32", required=True),
        Spec("streamid", "stream_id", "string", required=True),
        Spec("totalchunks", "total_chunks", "uint"),
        Spec("filesize", "file_size", "uint"),
        Spec("contenttype", "content_type", "string"),
        Spec("signature", "signature", "hex", required=True),  # not omitempty: signed as "0x"
        Spec("timestamp", "timestamp", "uint", required=True),
    )


@_check_fields
@dataclass(frozen=True)
class StreamChunkParams(Message):
    session_id: bytes
    stream_id: str
    chunk_index: int
    chunk_data: str
    is_last_chunk: bool
    timestamp: int
    signature: bytes = b""
    FIELDS = (
        Spec("sessionid", "session_id", "bytes32", required=True),
        Spec("streamid", "stream_id", "string", required=True),
        Spec("chunkindex", "chunk_index", "uint"),
        Spec("chunkdata", "chunk_data", "string"),
        Spec("islastchunk", "is_last_chunk", "bool"),
        Spec("signature", "signature", "hex", omitempty=True, required=True),
        Spec("timestamp", "timestamp", "uint", required=True),
    )


@_check_fields
@dataclass(frozen=True)
class StreamEndParams(Message):
    session_id: bytes
    stream_id: str
    audio_request: str
    timestamp: int
    signature: bytes = b""
    FIELDS = (
        Spec("sessionid", "session_id", "bytes32", required=True),
        Spec("streamid", "stream_id", "string", required=True),
        Spec("audiorequestparam", "audio_request", "string"),
        Spec("signature", "signature", "hex", omitempty=True, required=True),
        Spec("timestamp", "timestamp", "uint", required=True),
    )


SessionScoped = (
    GetToolsParams | CallToolParams | StreamStartParams | StreamChunkParams | StreamEndParams
)

UNSUPPORTED_METHODS: dict[str, type[SessionScoped]] = {
    "agent.get_tools": GetToolsParams,
    "agent.call_tool": CallToolParams,
    "session.prompt.stream.start": StreamStartParams,
    "session.prompt.stream.chunk": StreamChunkParams,
    "session.prompt.stream.end": StreamEndParams,
}
