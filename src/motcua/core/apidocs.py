"""What an API operation's description says of requests refused before any handler reads them.

The request guard (web.requests) answers a NUL character or a malformed host with 400 as an
RFC 9457 problem document, on every route. Operations whose description Litestar infers from
the handler take ``operation_class=Refusable``: their 400 then names that media type too, beside
the JSON of Litestar's own validation errors, so that a client (and the contract test) reads
the answer it gets as documented.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, Reference

PROBLEM_MEDIA_TYPE = "application/problem+json"
_PROBLEM = OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
_REFUSED = "The request could not be read (a NUL character)."


@dataclass
class Refusable(Operation):
    def __post_init__(self) -> None:
        responses = dict(self.responses or {})
        inferred = responses.get("400")
        if isinstance(inferred, OpenAPIResponse):
            responses["400"] = replace(
                inferred, content={**(inferred.content or {}), PROBLEM_MEDIA_TYPE: _PROBLEM}
            )
        else:
            responses["400"] = OpenAPIResponse(description=_REFUSED, content={PROBLEM_MEDIA_TYPE: _PROBLEM})
        self.responses = responses
