"""Cross-cutting parts: settings, database, errors, clock, calendar, policy, audit, permissions."""
