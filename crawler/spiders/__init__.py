"""Spiders: where articles come from."""
