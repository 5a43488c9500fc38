"""Identity (身份认证与授权): organisations, users, roles, sessions, API tokens."""
