"""The package version: one place, read by the packaging and the download User-Agent."""

__version__ = "0.2.0.dev0"
"""galwidget's version (PEP 440), as ``pip`` and ``gw.__version__`` report it."""
