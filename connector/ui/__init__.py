"""The web step runner (``outlook-connector ui``): a local page that renders each action's input
JSON Schema as a step form, fills dropdowns from the data sources, runs steps through the runtime
and starts triggers on a sandbox. See ``connector.ui.app``."""
