"""Exchange services, one module per topic."""
