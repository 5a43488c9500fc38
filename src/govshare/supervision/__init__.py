"""Supervision (监督考核): violations the platform finds itself and their rectification."""
