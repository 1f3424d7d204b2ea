"""A local Microsoft Graph v1.0 + identity platform v2 emulator (Flask), seeded with a fake tenant.

    from sandbox.server import SandboxServer            # served on a local port, in a thread
    from sandbox.app import create_app                  # or in-process: create_app(config).test_client()
    from sandbox.config import SandboxConfig            # seed, sizes, limits, token lifetimes, faults
    from sandbox import seed                            # TENANT_ID, CLIENT_ID, CLIENT_SECRET, USERS, ...

One app (or server) owns one ``SandboxState``: its copy of the tenant's mailboxes, issued grants,
throttling counters, fault settings and request log (``server.state`` / ``app.extensions``).
Test controls live on the state and behind ``/_sandbox/`` (see ``sandbox.admin``).
"""
