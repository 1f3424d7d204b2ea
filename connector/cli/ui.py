"""``ui``: serve the web step runner (``connector.ui``) on this machine."""

from __future__ import annotations

import click

from connector.cli._common import fail, main, open_store, runtime_for, stop_on_sigterm
from connector.errors import ConnectorError


@main.command("ui")
@click.option(
    "--port", default=8770, show_default=True, type=int, help="Port on 127.0.0.1 (0: any free port)."
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
            server = make_server("127.0.0.1", port, app, threaded=True)
            url = f"http://127.0.0.1:{server.server_port}/"
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
