"""The integration API as OpenAPI describes it: the OAuth 2.0 security scheme, the problem
schema, and each operation's request body, responses, headers and examples.

The handlers read their bodies themselves (a multipart or a JSON body on one route, every
invalid field named at once), so Litestar cannot infer these: each operation's documentation
is written here and attached with ``operation_class``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import (
    Components,
    Encoding,
    Link,
    OAuthFlow,
    OAuthFlows,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)

from motcua.integrations.auth import PROBLEM_MEDIA_TYPE, SCOPE_DESCRIPTIONS
from motcua.integrations.tokens import LIFETIME_SECONDS

S = OpenAPIType


def _ref(name: str) -> Reference:
    return Reference(ref=f"#/components/schemas/{name}")


def _text(
    max_length: int, *, min_length: int | None = None, pattern: str | None = None, **more: Any
) -> Schema:
    return Schema(type=S.STRING, max_length=max_length, min_length=min_length, pattern=pattern, **more)


def _optional_text(max_length: int, **more: Any) -> Schema:
    return Schema(type=[S.STRING, S.NULL], max_length=max_length, **more)


_DATE_TIME = Schema(type=S.STRING, format="date-time")  # type: ignore[arg-type]

SCHEMAS: dict[str, Schema] = {
    "FieldError": Schema(
        type=S.OBJECT,
        required=["field", "message"],
        properties={
            "field": Schema(type=S.STRING, description="The field at fault, as named in the request."),
            "message": Schema(type=S.STRING, description="What is wrong with it (Vietnamese)."),
        },
    ),
    "Problem": Schema(
        type=S.OBJECT,
        description="RFC 9457 problem details.",
        required=["type", "title", "status"],
        properties={
            "type": Schema(type=S.STRING, description="A URI naming the kind of problem."),
            "title": Schema(type=S.STRING),
            "status": Schema(type=S.INTEGER, minimum=400, maximum=599),
            "detail": Schema(type=S.STRING),
            "errors": Schema(type=S.ARRAY, items=_ref("FieldError")),
        },
        example={
            "type": "urn:motcua:problem:invalid",
            "title": "Dữ liệu không hợp lệ",
            "status": 422,
            "errors": [
                {"field": "applicant.personal_id", "message": "Số định danh cá nhân gồm đúng 12 chữ số."}
            ],
        },
    ),
    "Applicant": Schema(
        type=S.OBJECT,
        required=["personal_id", "full_name"],
        additional_properties=False,
        properties={
            "personal_id": _text(12, pattern=r"^\d{12}$", description="Số định danh cá nhân (CCCD)."),
            "full_name": _text(200, min_length=1, pattern=r"\S"),
            "phone": _optional_text(20, pattern=r"^\+?[0-9 .\-]{6,20}$"),
            "email": _optional_text(254, pattern=r"^[^@\s]{1,64}@[^@\s]{1,189}$"),
            "address": _optional_text(300),
        },
    ),
    "DossierIntake": Schema(
        type=S.OBJECT,
        required=["external_id", "procedure_code", "applicant"],
        additional_properties=False,
        properties={
            "external_id": _text(
                128,
                min_length=1,
                pattern=r"^[A-Za-z0-9._:\-]{1,128}$",
                description="The dossier's id in the sending system: the same id is the same dossier.",
            ),
            "procedure_code": _text(40, min_length=1, pattern=r"^[A-Za-z0-9._\-]{1,40}$"),
            "applicant": _ref("Applicant"),
            "data": Schema(
                type=S.OBJECT,
                max_properties=200,
                additional_properties=_text(4000),
                description="The answers of the procedure's current form, by field name.",
            ),
            "submitted_by_citizen": Schema(
                type=S.BOOLEAN,
                default=True,
                description="True when the citizen submitted it themselves on the sending portal.",
            ),
        },
        example={
            "external_id": "DVCQG-2026-000123",
            "procedure_code": "1.001193",
            "applicant": {"personal_id": "001090012345", "full_name": "Nguyễn Văn An", "phone": "0912345678"},
            "data": {"child_name": "Nguyễn Văn Bình", "birth_date": "2026-01-15"},
            "submitted_by_citizen": True,
        },
    ),
    "DossierReceipt": Schema(
        type=S.OBJECT,
        required=["code", "status", "status_label", "received_at", "due_at", "tracking_url"],
        properties={
            "code": Schema(type=S.STRING, description="The dossier's code on this portal."),
            "status": Schema(type=S.STRING, description="The status code (see status_label for words)."),
            "status_label": Schema(type=S.STRING),
            "received_at": _DATE_TIME,
            "due_at": _DATE_TIME,
            "tracking_url": Schema(type=S.STRING, description="The public tracking page of the dossier."),
        },
        example={
            "code": "000.00.01.H26-260115-0001",
            "status": "submitted",
            "status_label": "Mới đăng ký",
            "received_at": "2026-01-15T09:30:00+07:00",
            "due_at": "2026-01-20T17:00:00+07:00",
            "tracking_url": "https://hanoi.example.vn/tracking?code=000.00.01.H26-260115-0001",
        },
    ),
    "HistoryEntry": Schema(
        type=S.OBJECT,
        required=["at", "status", "status_label"],
        properties={"at": _DATE_TIME, "status": Schema(type=S.STRING), "status_label": Schema(type=S.STRING)},
    ),
    "DossierState": Schema(
        all_of=[
            _ref("DossierReceipt"),
            Schema(
                type=S.OBJECT,
                required=[
                    "procedure_code",
                    "procedure_name",
                    "channel",
                    "channel_label",
                    "submitted_by_citizen",
                    "history",
                ],
                properties={
                    "procedure_code": Schema(type=S.STRING),
                    "procedure_name": Schema(type=S.STRING),
                    "channel": Schema(
                        type=S.STRING, enum=["in_person", "online", "postal", "national_portal"]
                    ),
                    "channel_label": Schema(type=S.STRING),
                    "submitted_by_citizen": Schema(type=S.BOOLEAN),
                    "source_system": Schema(type=[S.STRING, S.NULL]),
                    "external_id": Schema(type=[S.STRING, S.NULL]),
                    "finished_at": Schema(type=[S.STRING, S.NULL], format="date-time"),  # type: ignore[arg-type]
                    "slip_verification_url": Schema(
                        type=[S.STRING, S.NULL],
                        description=(
                            "The public verification page of the signed appointment slip (the address"
                            " its QR code holds); null until the slip is signed."
                        ),
                    ),
                    "history": Schema(type=S.ARRAY, items=_ref("HistoryEntry")),
                },
            ),
        ]
    ),
    "TokenRequest": Schema(
        type=S.OBJECT,
        required=["grant_type"],
        properties={
            "grant_type": Schema(type=S.STRING, enum=["client_credentials"]),
            "scope": Schema(type=S.STRING, description="Space-separated; a subset of the client's scopes."),
            "client_id": Schema(type=S.STRING, description="With client_secret_post only."),
            "client_secret": Schema(type=S.STRING, description="With client_secret_post only."),
        },
    ),
    "TokenResponse": Schema(
        type=S.OBJECT,
        required=["access_token", "token_type", "expires_in", "scope"],
        properties={
            "access_token": Schema(type=S.STRING),
            "token_type": Schema(type=S.STRING, enum=["Bearer"]),
            "expires_in": Schema(type=S.INTEGER),
            "scope": Schema(type=S.STRING),
        },
        example={
            "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
            "token_type": "Bearer",
            "expires_in": LIFETIME_SECONDS,
            "scope": "dossiers:intake dossiers:read",
        },
    ),
    "OAuthError": Schema(
        type=S.OBJECT,
        description="RFC 6749 §5.2 error response.",
        required=["error"],
        properties={
            "error": Schema(
                type=S.STRING,
                enum=[
                    "invalid_request",
                    "invalid_client",
                    "invalid_grant",
                    "unauthorized_client",
                    "unsupported_grant_type",
                    "invalid_scope",
                ],
            ),
            "error_description": Schema(type=S.STRING),
            "error_uri": Schema(type=S.STRING),
        },
    ),
}


@dataclass
class KeptComponents(Components):
    """Litestar sets ``components.schemas`` to the schemas it generated from handler types,
    which would drop the ones written here: setting the field merges instead of replacing."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "schemas" and value is not None:
            value = {**(self.__dict__.get("schemas") or {}), **value}
        super().__setattr__(name, value)


# The app's OpenAPI components (give them to OpenAPIConfig as they are, not in a list: a list is
# merged into a plain Components).
COMPONENTS = KeptComponents(
    schemas=SCHEMAS,
    security_schemes={
        "oauth2": SecurityScheme(
            type="oauth2",
            description=(
                "OAuth 2.0 client credentials (RFC 6749 §4.4). Tenant administrators register "
                "clients at /manage/integrations; tokens are bound to the portal that issued them "
                f"and last {LIFETIME_SECONDS // 60} minutes."
            ),
            flows=OAuthFlows(
                client_credentials=OAuthFlow(token_url="/oauth/token", scopes=dict(SCOPE_DESCRIPTIONS))  # noqa: S106
            ),
        ),
        "clientBasic": SecurityScheme(
            type="http", scheme="basic", description="client_id and client_secret (client_secret_basic)."
        ),
    },
)


def _problem(
    description: str, *, headers: dict[str, OpenAPIHeader | Reference] | None = None
) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description,
        headers=headers,
        content={PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=_ref("Problem"))},
    )


def _header(description: str) -> OpenAPIHeader:
    return OpenAPIHeader(schema=Schema(type=S.STRING), description=description)


_CHALLENGE: dict[str, OpenAPIHeader | Reference] = {
    "WWW-Authenticate": _header("RFC 6750 challenge (Bearer).")
}
_RETRY: dict[str, OpenAPIHeader | Reference] = {
    "Retry-After": _header("Seconds until the client's budget renews.")
}
_LOCATION: dict[str, OpenAPIHeader | Reference] = {"Location": _header("The dossier's URL in this API.")}

# Operation ids, named so that links (what a client does next with an answer) can point at them.
TOKEN_ID = "issueToken"  # noqa: S105  (an operation id)
INTAKE_ID = "submitDossier"
READ_ID = "readDossier"
CREATE_WEBHOOK_ID = "createWebhook"
LIST_WEBHOOKS_ID = "listWebhooks"
DELETE_WEBHOOK_ID = "deleteWebhook"

# After a dossier is received, its state is read by the code in the answer.
_READ_LINK: dict[str, Link | Reference] = {
    "ReadDossier": Link(
        operation_id=READ_ID,
        parameters={"code": "$response.body#/code"},
        description="The dossier just received, by its code.",
    )
}
# After subscribing, the subscription is stopped by the id in the answer.
DELETE_WEBHOOK_LINK: dict[str, Link | Reference] = {
    "DeleteWebhook": Link(
        operation_id=DELETE_WEBHOOK_ID,
        parameters={"webhook_id": "$response.body#/id"},
        description="Stop the subscription just made.",
    )
}


def _api_errors(*statuses: int) -> dict[str, OpenAPIResponse | Reference]:
    words = {
        400: "The request could not be read (malformed JSON or multipart, a NUL character).",
        401: "No token, or a token that is invalid, expired, of another portal or of a revoked client.",
        403: "The token lacks the scope this operation needs.",
        404: "No such dossier on this portal.",
        409: "The external id is already used for another dossier.",
        413: "A document or the whole request is too large.",
        415: "The body is neither application/json nor multipart/form-data.",
        422: "Invalid fields, each named in `errors`.",
        429: "Too many requests from this client.",
    }
    headers = {401: _CHALLENGE, 403: _CHALLENGE, 429: _RETRY}
    return {str(s): _problem(words[s], headers=headers.get(s)) for s in statuses}


def documented(
    *, responses: dict[str, OpenAPIResponse | Reference], request_body: RequestBody | None = None
) -> type[Operation]:
    """An ``operation_class`` that replaces what Litestar inferred with what is written here."""

    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            self.responses = dict(responses)
            if request_body is not None:
                self.request_body = request_body

    return Documented


GRANT_DESCRIPTION = (
    "Client credentials grant (RFC 6749 §4.4). Authenticate with HTTP Basic (client_secret_basic) "
    "or with client_id and client_secret in the body (client_secret_post). The access token is "
    "a JWT valid on this portal only; a rotated secret or a revoked client ends it at once."
)
TOKEN_OPERATION = documented(
    request_body=RequestBody(
        required=True,
        content={
            "application/x-www-form-urlencoded": OpenAPIMediaType(
                schema=_ref("TokenRequest"),
                example={"grant_type": "client_credentials", "scope": "dossiers:intake"},
            )
        },
    ),
    responses={
        "200": OpenAPIResponse(
            description="The access token.",
            content={"application/json": OpenAPIMediaType(schema=_ref("TokenResponse"))},
        ),
        "400": OpenAPIResponse(
            description=(
                "RFC 6749 error: unsupported grant type, invalid scope, missing parameters; or, as "
                "a problem document, a request refused before it is read (a NUL character)."
            ),
            content={
                "application/json": OpenAPIMediaType(schema=_ref("OAuthError")),
                PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=_ref("Problem")),
            },
        ),
        "401": OpenAPIResponse(
            description="The client could not be authenticated (unknown, revoked or wrong secret).",
            headers={"WWW-Authenticate": _header("Basic challenge.")},
            content={"application/json": OpenAPIMediaType(schema=_ref("OAuthError"))},
        ),
        **_api_errors(413, 429),
    },
)

INTAKE_DESCRIPTION = (
    "Creates a dossier received through the national public-service portal. Send the dossier as "
    "JSON, or as multipart/form-data with a part `dossier` (JSON) and one part "
    "`document:<document code>` per file (each checked by its content, within the portal's size "
    "limit). The answers are checked against the procedure's current form. Posting the same "
    "`external_id` again (also in parallel) answers 200 with the dossier already created. The "
    "signed appointment slip is issued with the new dossier (signed later if the signer is "
    "unavailable); the read gives its verification page."
)
INTAKE_OPERATION = documented(
    request_body=RequestBody(
        required=True,
        content={
            "application/json": OpenAPIMediaType(schema=_ref("DossierIntake")),
            "multipart/form-data": OpenAPIMediaType(
                schema=Schema(
                    type=S.OBJECT,
                    required=["dossier"],
                    properties={"dossier": _ref("DossierIntake")},
                    additional_properties=Schema(
                        type=S.STRING,
                        format="binary",  # type: ignore[arg-type]
                        description="A document: the part is named `document:<document code>`.",
                    ),
                ),
                encoding={"dossier": Encoding(content_type="application/json")},
            ),
        },
    ),
    responses={
        "201": OpenAPIResponse(
            description="The dossier was created.",
            headers=_LOCATION,
            content={"application/json": OpenAPIMediaType(schema=_ref("DossierReceipt"))},
            links=_READ_LINK,
        ),
        "200": OpenAPIResponse(
            description="This external id was received before: the same dossier.",
            headers=_LOCATION,
            content={"application/json": OpenAPIMediaType(schema=_ref("DossierReceipt"))},
            links=_READ_LINK,
        ),
        **_api_errors(400, 401, 403, 409, 413, 415, 422, 429),
    },
)

READ_DESCRIPTION = (
    "The dossier's status, channel, due date and history of statuses (times and statuses only: "
    "no officer's name or ID)."
)
READ_OPERATION = documented(
    responses={
        "200": OpenAPIResponse(
            description="The dossier.",
            content={"application/json": OpenAPIMediaType(schema=_ref("DossierState"))},
        ),
        **_api_errors(400, 401, 403, 404, 429),
    },
)
