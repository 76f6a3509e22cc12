"""The report-exchange engine: parsers, normaliser, router and batching.

Pure Python, no Django import: the Django services feed it bytes and constituency data
and store what it returns, and the benchmark drives it directly.
"""
