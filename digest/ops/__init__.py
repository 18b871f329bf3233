"""What ops look at: ``digest status``, ``/healthz`` and the Prometheus metrics."""
