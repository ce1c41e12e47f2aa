"""Errors shared by every layer."""


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""
