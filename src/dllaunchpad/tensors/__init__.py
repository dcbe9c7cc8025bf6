"""Tensor products (products.py) and decompositions (decompositions.py)."""
