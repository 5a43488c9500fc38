"""The web layer: application factory, request wiring, layout, static files."""
