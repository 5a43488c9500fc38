"""The open-data portal (资源开放门户): the internet-side app and its own database."""
