"""tshoot: a live troubleshooting inspector for servers."""

__version__ = "0.1.0"
