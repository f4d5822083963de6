"""Collaboration websockets accept pages of their own origin only, like Jupyter's own sockets.

jupyter-collaboration's `YDocWebSocketHandler.check_origin` returns True for every origin,
leaning on authentication alone. With cookie logins that lets a page of another origin
(another user's server on a sibling subdomain) open a document socket in the visitor's
name. Jupyter server's `WebSocketMixin.check_origin` is used instead: same host, or
`ServerApp.allow_origin`; requests carrying a token (not a cookie) are not origin-checked.
"""

from __future__ import annotations

from jupyter_server.base.websocket import WebSocketMixin


def same_origin_collaboration() -> None:
    from jupyter_server_ydoc.handlers import YDocWebSocketHandler

    YDocWebSocketHandler.check_origin = WebSocketMixin.check_origin  # type: ignore[method-assign]
