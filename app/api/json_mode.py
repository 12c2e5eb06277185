"""``response_format`` and ``tools`` of a chat request: JSON mode becomes a llama.cpp grammar, so
a local model can only write JSON; what we cannot honour is refused with a 400, never ignored.
"""

from __future__ import annotations

from typing import Any

from app.api.errors import ApiError

# Any JSON object (OpenAI's JSON mode asks for an object at the top). Whitespace is bounded so a
# small model cannot wander into endless blank lines before closing the object.
JSON_OBJECT_GRAMMAR = r"""
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}" ws
array  ::= "[" ws ( value ( "," ws value )* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\"" ws
number ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,4} )? ws
ws     ::= [ \t\n]{0,8}
"""


def _bad(message: str, param: str) -> ApiError:
    return ApiError(400, message, param=param, code="unsupported_parameter")


def refuse_tools(body: dict[str, Any]) -> None:
    """Tool calling is not supported yet: say so instead of answering as if no tools were sent."""
    for name in ("tools", "functions"):
        if body.get(name):
            raise _bad(
                f"'{name}' (tool calling) is not supported by Morpheus Desktop's API yet. "
                "Send the request without tools.", name,
            )
    for name in ("tool_choice", "function_call"):
        choice = body.get(name)
        if choice not in (None, "none", "auto"):
            raise _bad(f"'{name}' is not supported: this API has no tool calling yet.", name)


def grammar_for(body: dict[str, Any]) -> str:
    """The grammar ``response_format`` asks for ("" for plain text)."""
    fmt = body.get("response_format")
    if fmt is None:
        return ""
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return ""
    if kind == "json_object":
        return JSON_OBJECT_GRAMMAR
    if kind == "json_schema":
        raise _bad(
            "response_format 'json_schema' is not supported yet; use {\"type\": \"json_object\"} "
            "(any JSON object) and describe the fields in the prompt.", "response_format",
        )
    raise ApiError(400, "response_format must be {\"type\": \"text\"} or "
                   "{\"type\": \"json_object\"}.", param="response_format", code="invalid_value")
