"""The verification domain (校核与比对)."""
