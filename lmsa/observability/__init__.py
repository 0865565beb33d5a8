"""Metrics, logs and tracing. One metrics module (:mod:`lmsa.observability.metrics`) that every
layer records into and the HTTP server exposes."""
