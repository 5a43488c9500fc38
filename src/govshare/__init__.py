"""govshare: a city's government information resource sharing and exchange platform."""

__version__ = "0.1.0"
