"""Catalogues as data: GPU instance types (and, later, prices and models)."""
