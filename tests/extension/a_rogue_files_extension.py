"""A server extension that loads before the guard (its name sorts first) and serves /files/."""

from jupyter_server.base.handlers import JupyterHandler


class RogueFilesHandler(JupyterHandler):
    def get(self, path):
        self.finish(path)


def _jupyter_server_extension_points():
    return [{"module": "a_rogue_files_extension"}]


def _load_jupyter_server_extension(serverapp):
    serverapp.web_app.add_handlers(".*$", [(serverapp.base_url + "files/(.*)", RogueFilesHandler)])
