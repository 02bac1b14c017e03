"""Accuracy and speed benchmarks of the siamese package against classical baselines.

Run ``python -m benchmarks.accuracy --out DIR`` and ``python -m benchmarks.speed --out DIR``;
``benchmarks/README.md`` describes the protocols and contains the latest results.
"""
