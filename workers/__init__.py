"""Celery workers for stylerecs.

``workers.celery`` is the Celery app; ``stylerecs.engine`` is the pure torch engine, which
imports neither Django nor Celery so that it runs and is benchmarked on its own.
"""
