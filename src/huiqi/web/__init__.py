"""The service: REST API and web UI (`huiqi serve`)."""
