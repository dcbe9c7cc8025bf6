"""Tensor products (products.py) and, later, decompositions."""
