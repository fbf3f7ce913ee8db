"""The development mail catcher's inbox, on the platform host (http://localhost:8000/dev/mail).
Registered only when dev services are on, like the mail catcher itself."""

from __future__ import annotations

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response

from motcua.core.pages import HttpRequest, page
from motcua.core.settings import Settings
from motcua.dev.mailcatcher import get_message, list_messages


@get("/dev/mail", include_in_schema=False)
async def inbox(request: HttpRequest, settings: NamedDependency[Settings]) -> Response[str]:
    return page(request, "web/dev_mail.html", messages=list_messages(settings), message=None)


@get("/dev/mail/{message_id:str}", include_in_schema=False)
async def message(
    request: HttpRequest, settings: NamedDependency[Settings], message_id: FromPath[str]
) -> Response[str]:
    found = get_message(settings, message_id)
    if found is None:
        raise NotFoundException()
    return page(request, "web/dev_mail.html", messages=None, message=found)


router = Router(path="/platform", route_handlers=[inbox, message])
