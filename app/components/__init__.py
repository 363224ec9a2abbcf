"""Render functions: each takes report or card data and draws it; none computes."""
