"""``ui``: serve the web step runner (``connector.ui``) on this machine."""

from __future__ import annotations

import socket

import click

from connector.cli._common import fail, listen_error, main, open_store, runtime_for, stop_on_sigterm
from connector.errors import ConnectorError


@main.command("ui")
@click.option(
    "--port",
    default=8770,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option("--open/--no-open", "open_browser", default=True, help="Open the page in a browser.")
def ui_command(port: int, open_browser: bool) -> None:
    """Serve the step runner page on http://127.0.0.1:PORT: choose a connection (or a sandbox
    started on the spot), fill an action's form, run it; start a trigger on the sandbox and watch
    its events. It listens on the loopback interface only."""
    from werkzeug.serving import make_server

    from connector.ui.app import close_app, create_app

    store = open_store()
    try:
        with stop_on_sigterm(), runtime_for(store) as runtime:
            app = create_app(runtime, store)
            try:  # bound here: werkzeug would print two lines and exit 1 on a port in use
                listening = socket.create_server(("127.0.0.1", port))
            except OSError as exc:
                close_app(app)
                listen_error(f"--port {port}", exc)
            with listening:
                server = make_server("127.0.0.1", port, app, threaded=True, fd=listening.fileno())
            url = f"http://127.0.0.1:{server.port}/"
            click.echo(f"step runner at {url} (Ctrl-C stops)", err=True)
            if open_browser:
                import webbrowser

                webbrowser.open(url)
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
            finally:
                server.server_close()
                close_app(app)
    except ConnectorError as exc:
        fail(exc)
