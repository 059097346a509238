"""HTTP to Iterable: auth, regions, per-endpoint rate limits, retries, pagination, streaming, errors.

This layer knows endpoints, not tables: it returns dicts and iterators of records.
"""
