"""Catalogues as data: GPU instance types, their prices, and models (one module each, sourced and dated)."""
