"""Monitoring that runs beside the request path: offline analysis of the gateway's prediction logs.

- `report`: traffic, classes, latency and inputs outside the training range, from the logs.
- `cli`: `covertype report`.
"""
