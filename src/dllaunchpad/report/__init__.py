"""Figures (one consistent, colour-blind-safe style) and the self-contained HTML report."""
