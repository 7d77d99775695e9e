"""The operator's console: a small read-only web service beside the gateway.

It shows the model's versions (states, labels, model cards), live traffic per version,
input drift and the release history, and offers a prediction form. It reads what the
other services already expose: the gateway's /metrics and /v1/models, the registry,
the release record and the prediction log. Predictions from the form go through the
gateway's own /v1/predict, so they are answered (and refused) exactly as for any client.
"""
