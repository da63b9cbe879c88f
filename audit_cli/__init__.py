"""audit: an accountable history of every change to data, in one SQLite file."""

__version__ = "0.1.0"
