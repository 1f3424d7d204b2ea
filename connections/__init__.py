"""Outlook connection types: how the connector signs in to Microsoft Graph.

- ``registry``: ``CONNECTION_TYPES``, ``create_connection``, ``load_connection``,
  ``connect_interactively``, ``connection_summary``
- ``oauth_code`` / ``oauth_code_legacy`` / ``client_credentials``: a config model (its JSON Schema is
  the connection form) and a connection class per type
- ``authorization``: ``begin_authorization``, ``complete_authorization``, ``authorize_headless``;
  ``loopback``: ``run_loopback_flow`` (sign in from a terminal)
- ``sandbox``: ``sandbox_connection`` to a running Graph sandbox
- ``base.Connection``: what the runtime needs from a connection

Nothing is imported here, so that importing one module stays cheap.
"""
